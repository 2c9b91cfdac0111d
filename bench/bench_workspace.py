"""Per-container start cost of a pristine /workspace: derived image vs. a fresh copy.

    .venv/bin/python bench/bench_workspace.py [--mb 50] [--files 500] [--containers 10]

Derived image (what DockerExecutor does): the source is committed once into an
image layer; each container gets a copy-on-write /workspace. Baseline: the source
is copied into a fresh temp dir per container and bind-mounted at /workspace.
Both run the same trivial command, create → start → wait → remove. Prints the
numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
from docker import DockerClient
from docker.types import Mount

from ci_bot.executors.base import LABEL_PIPELINE, ExecSpec
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.images import BUSYBOX_IMAGE
from ci_bot.executors.workspace import WorkspaceImages

COMMAND = ["sh", "-c", "test -f /workspace/dir0/file0.bin"]


def make_repository(root: Path, megabytes: int, files: int) -> None:
    size = megabytes * 2**20 // files
    for index in range(files):
        path = root / f"dir{index % 20}" / f"file{index // 20}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))


def run_container(
    client: DockerClient, image: str, labels: dict[str, str], **kwargs: object
) -> None:
    container = client.containers.create(image, command=COMMAND, labels=labels, **kwargs)  # type: ignore[arg-type]
    try:
        container.start()
        status = container.wait()["StatusCode"]
        assert status == 0, f"the probe command failed with {status}"
    finally:
        container.remove(force=True)


def timed(count: int, step: Callable[[], None]) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="repository size in MiB")
    parser.add_argument("--files", type=int, default=500, help="number of files")
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--image", default=BUSYBOX_IMAGE)
    args = parser.parse_args()

    client = docker.from_env()
    pipeline = f"bench-{uuid.uuid4().hex[:8]}"
    labels = {LABEL_PIPELINE: pipeline}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = work / "source"
        make_repository(source, args.mb, args.files)
        try:
            report(client, args, pipeline, labels, work, source)
        finally:
            DockerExecutor(client).discard_pipeline(pipeline)


def report(
    client: DockerClient,
    args: argparse.Namespace,
    pipeline: str,
    labels: dict[str, str],
    work: Path,
    source: Path,
) -> None:
    started = time.perf_counter()
    derived = WorkspaceImages().image_for(client, pipeline, args.image, source)
    build = time.perf_counter() - started
    derived_runs = timed(args.containers, lambda: run_container(client, derived, labels))

    def copy_and_run() -> None:
        copy = Path(tempfile.mkdtemp(dir=work))
        try:
            shutil.copytree(source, copy, dirs_exist_ok=True)
            mount = Mount("/workspace", str(copy), type="bind")
            run_container(client, args.image, labels, mounts=[mount], working_dir="/workspace")
        finally:
            shutil.rmtree(copy)

    copy_runs = timed(args.containers, copy_and_run)
    executor = DockerExecutor(client)
    executor_runs = timed(
        args.containers, lambda: _executor_run(executor, pipeline, args, work, source)
    )

    n = args.containers
    d, c = statistics.mean(derived_runs), statistics.mean(copy_runs)
    amortized = (build + sum(derived_runs)) / n
    print(f"repository: {args.mb} MiB in {args.files} files; {n} containers of {args.image}")
    print(f"derived image, one-time build:        {build * 1000:8.0f} ms")
    print(f"derived image, per container (mean):  {d * 1000:8.0f} ms")
    print(f"derived image, per container + build/{n}: {amortized * 1000:5.0f} ms")
    print(f"copy + bind mount, per container:     {c * 1000:8.0f} ms")
    print(f"DockerExecutor.run end to end (mean): {statistics.mean(executor_runs) * 1000:8.0f} ms")
    print(f"ratio copy / derived (per container): {c / d:8.2f}x")
    print(f"ratio copy / derived (with build):    {c / amortized:8.2f}x")


def _executor_run(
    executor: DockerExecutor, pipeline: str, args: argparse.Namespace, work: Path, source: Path
) -> None:
    execution = uuid.uuid4().hex
    spec = ExecSpec(
        pipeline_id=pipeline,
        node_path="/bench",
        execution_id=execution,
        image=args.image,
        command=" ".join(COMMAND[2:]),
        source_dir=source,
        data_dir=work / "data",
        cache_dir=work / "cache",
        log_path=work / "logs" / f"{execution}.log",
    )
    result = executor.run(spec)
    assert result.state == "done", result


if __name__ == "__main__":
    main()
