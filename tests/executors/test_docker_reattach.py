"""A node picked up again after its engine was killed: its log holds each byte of the
container's output once, in order, whatever was on the way when the engine died."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict
from pathlib import Path

import pytest
from docker import DockerClient
from docker.models.containers import Container
from docker.types import Mount

from ci_bot.executors.base import LABEL_EXECUTION, LABEL_PIPELINE, ExecSpec
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.logstream import Attached, frame_blocks, open_logs
from ci_bot.executors.offsets import Offsets, read_offsets
from tests.conftest import REPO_ROOT
from tests.executors.support import MakeSpec, containers_of, log_lines
from tests.executors.test_docker_follow import CHILD

pytestmark = pytest.mark.docker

LONG = 40_000  # bytes of "x": the long line is cut in 16 KiB messages by Docker
# Numbered lines on both streams, a long line whose newline waits until the test
# touches /ci/data/release (the first engine is killed meanwhile), more lines, and a
# last line without a newline.
SCRIPT = f"""
i=1; while [ $i -le 20 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done
printf 'long '; head -c {LONG} /dev/zero | tr '\\0' x
while [ ! -e /ci/data/release ]; do sleep 0.05; done
echo
while [ $i -le 40 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done
printf o-last
"""
FIRST_PIECE = 10_000  # the first engine writes the long line in pieces of this size
EARLY_STDOUT = sum(len(f"o{i}\n") for i in range(1, 21))
EARLY_STDERR = sum(len(f"e{i}\n") for i in range(1, 21))

# The first engine: what DockerExecutor._run_container does, with smaller pieces so
# that its counts end inside one of Docker's 16 KiB messages.
FIRST_ENGINE = f"""
import sys
from pathlib import Path
import docker
from ci_bot.executors.follow import OutputFollower
from ci_bot.executors.logs import LogWriter
container = docker.from_env().containers.get(sys.argv[1])
log = LogWriter(Path(sys.argv[2]), piece_bytes={FIRST_PIECE})
output = OutputFollower.attach(container, log)
container.start()
output.follow()
"""


def test_a_node_re_attached_after_a_kill_logs_every_line_once_in_order(
    make_spec: MakeSpec, docker_engine: DockerClient, busybox_image: str
) -> None:
    spec = make_spec(SCRIPT)
    container = _create(docker_engine, busybox_image, spec)
    held_back = Offsets(EARLY_STDOUT + 4 * FIRST_PIECE, EARLY_STDERR)  # 5 bytes pending
    with subprocess.Popen(
        [sys.executable, "-c", FIRST_ENGINE, str(container.id), str(spec.log_path)],
        cwd=REPO_ROOT,
    ) as first:
        _wait_for(lambda: read_offsets(spec.log_path) == held_back)
        first.kill()  # SIGKILL: the unfinished line it held is lost with it
    (spec.data_dir / "release").touch()

    second = DockerExecutor(docker_engine)
    result = second.reattach(str(container.id), spec)

    assert (result.state, result.exit_code) == ("done", 0)
    lines = [line for line in log_lines(spec) if not line.startswith("[ci-bot] ")]
    stdout: list[str] = []
    for line in (line for line in lines if line[:1] in ("o", "l", "x")):
        if set(line) == {"x"}:  # a piece of the long line, written as a line of its own
            stdout[-1] += line
        else:
            stdout.append(line)
    assert stdout == [
        *(f"o{i}" for i in range(1, 21)),
        "long " + "x" * LONG,
        *(f"o{i}" for i in range(21, 41)),
        "o-last",
    ]
    assert [line for line in lines if line.startswith("e")] == [f"e{i}" for i in range(1, 41)]
    assert len(lines) == 40 + 4 + 1 + 40 + 1  # nothing else: no line twice
    stdout_bytes = sum(len(f"o{i}\n") for i in range(1, 41)) + len("long \no-last") + LONG
    stderr_bytes = sum(len(f"e{i}\n") for i in range(1, 41))
    assert read_offsets(spec.log_path) == Offsets(stdout_bytes, stderr_bytes)  # all of it
    assert second.wait_for_removals(30)
    assert containers_of(docker_engine, spec) == []


def test_a_node_re_attached_after_its_engine_ran_it_logs_each_line_once(
    make_spec: MakeSpec, docker_engine: DockerClient
) -> None:
    spec = make_spec(
        "echo first; echo oops >&2; while [ ! -e /ci/data/release ]; do sleep 0.05; done; "
        "echo second; printf third"
    )
    fields = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(spec).items()}
    with subprocess.Popen(  # an engine running the node (DockerExecutor.run)
        [sys.executable, "-c", CHILD, json.dumps(fields)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    ) as first:
        assert first.stdout is not None
        container_id = first.stdout.readline().strip()
        _wait_for(lambda: read_offsets(spec.log_path) == Offsets(6, 5))
        first.kill()
    (spec.data_dir / "release").touch()

    second = DockerExecutor(docker_engine)
    result = second.reattach(container_id, spec)
    assert second.wait_for_removals(30)

    assert result.state == "done"
    lines = [line for line in log_lines(spec) if not line.startswith("[ci-bot] ")]
    assert sorted(lines[:2]) == ["first", "oops"]
    assert lines[2:] == ["second", "third"]


def test_docker_logs_give_each_stream_the_bytes_the_attach_stream_gave(
    make_spec: MakeSpec, docker_engine: DockerClient, busybox_image: str
) -> None:
    # A line of 40 000 bytes (three 16 KiB messages), a carriage return, a line
    # written in two parts, stderr between, and a last line without a newline.
    spec = make_spec(
        f"head -c {LONG} /dev/zero | tr '\\0' y; echo; printf 'a\\rb\\n'; printf 'par'; "
        "echo oops >&2; sleep 0.2; echo 'tial'; printf 'no newline'; printf 'err end' >&2"
    )
    container = _create(docker_engine, busybox_image, spec)
    attached: dict[int, bytes] = {1: b"", 2: b""}
    stream = Attached(container)
    try:
        container.start()
        for runs in stream.blocks():
            for number, data in runs:
                attached[number] += data
    finally:
        stream.close()
    container.wait()
    logged: dict[int, bytes] = {1: b"", 2: b""}
    with closing(open_logs(container, follow=False, since=None)) as response:
        for frames in frame_blocks(response):
            for stamp, text, number in zip(
                frames.stamps, frames.texts, frames.streams, strict=True
            ):
                assert stamp  # each message has Docker's stamp
                logged[number] += text
    container.remove(force=True)

    assert attached == logged
    assert logged == {1: b"y" * LONG + b"\na\rb\npartial\nno newline", 2: b"oops\nerr end"}


def _create(client: DockerClient, image: str, spec: ExecSpec) -> Container:
    spec.data_dir.mkdir(parents=True, exist_ok=True)
    return client.containers.create(
        image,
        command=["sh", "-c", spec.command],
        labels={LABEL_PIPELINE: spec.pipeline_id, LABEL_EXECUTION: spec.execution_id},
        mounts=[Mount("/ci/data", str(spec.data_dir.resolve()), type="bind")],
    )


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
