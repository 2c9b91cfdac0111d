"""Following containers: running(), reattach() after a crash, and output too big for memory."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from docker import DockerClient

from ci_bot.executors.base import ExecResult, ExecSpec
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.logs import tail
from tests.conftest import REPO_ROOT
from tests.executors.support import MakeSpec, containers_of, log_lines

pytestmark = pytest.mark.docker

CHILD = """
import json, sys
from pathlib import Path
from ci_bot.executors.base import ExecSpec
from ci_bot.executors.docker import DockerExecutor
fields = json.loads(sys.argv[1])
for name in ("source_dir", "data_dir", "cache_dir", "log_path"):
    fields[name] = Path(fields[name])
DockerExecutor().run(ExecSpec(**fields), on_started=lambda cid: print(cid, flush=True))
"""


def test_running_lists_it_and_a_second_executor_reattaches(
    executor: DockerExecutor, make_spec: MakeSpec, docker_engine: DockerClient, tmp_path: Path
) -> None:
    spec = make_spec("echo first; sleep 2; echo second; exit 4", node_path="/test/slow")
    started: list[str] = []
    results: list[ExecResult] = []
    thread = threading.Thread(target=lambda: results.append(executor.run(spec, started.append)))
    thread.start()
    _wait_for(lambda: bool(started))

    second = DockerExecutor(docker_engine)
    (found,) = [r for r in second.running() if r.execution_id == spec.execution_id]
    followed = second.reattach(
        found.container_id, dataclasses.replace(spec, log_path=tmp_path / "r.log")
    )
    thread.join(30)

    assert (found.container_id, found.pipeline_id, found.node_path) == (
        started[0],
        spec.pipeline_id,
        "/test/slow",
    )
    assert (followed.state, followed.exit_code, followed.container_id) == ("error", 4, started[0])
    assert (results[0].state, results[0].exit_code) == ("error", 4)
    assert "second" in (tmp_path / "r.log").read_text()
    assert executor.wait_for_removals(30) and second.wait_for_removals(30)
    assert containers_of(docker_engine, spec) == []


def test_reattach_after_the_engine_process_died(
    make_spec: MakeSpec, docker_engine: DockerClient
) -> None:
    spec = make_spec("echo first; sleep 3; echo second; exit 4")
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(_fields(spec))],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    ) as child:
        assert child.stdout is not None
        container_id = child.stdout.readline().strip()
        _wait_for(lambda: "first" in _text(spec.log_path))
        child.kill()  # the engine dies without cleaning up; the container runs on
    executor = DockerExecutor(docker_engine)
    assert container_id in [r.container_id for r in executor.running()]

    result = executor.reattach(container_id, spec)

    assert (result.state, result.exit_code) == ("error", 4)
    lines = log_lines(spec)
    assert lines[0] == "first"
    assert lines[1].startswith("[ci-bot] following container")
    assert lines[2:] == ["second", "[ci-bot] exited with code 4"]  # "first" not again
    assert executor.wait_for_removals(30)
    assert containers_of(docker_engine, spec) == []


def test_huge_output_keeps_memory_flat(executor: DockerExecutor, make_spec: MakeSpec) -> None:
    # 200 MB in lines of 1000 characters, straight into the log file.
    spec = make_spec("yes \"$(head -c 999 /dev/zero | tr '\\0' x)\" | head -c 200000000")
    sampler = _PeakRss()

    with sampler:
        result = executor.run(spec)

    try:
        assert result.state == "done"
        assert spec.log_path.stat().st_size > 200_000_000
        assert tail(spec.log_path, 1)[0].endswith("x" * 999)
        assert sampler.growth < 64 * 2**20, f"RSS grew by {sampler.growth / 2**20:.1f} MiB"
    finally:
        spec.log_path.unlink()  # pytest keeps old tmp dirs; do not keep 200 MB around


class _PeakRss:
    """The largest RSS growth of this process while the block ran (sampled every 20 ms)."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._baseline = self._peak = int(self._process.memory_info().rss)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def growth(self) -> int:
        return self._peak - self._baseline

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._peak = max(self._peak, int(self._process.memory_info().rss))


def _fields(spec: ExecSpec) -> dict[str, object]:
    fields = dataclasses.asdict(spec)
    return {k: str(v) if isinstance(v, Path) else v for k, v in fields.items()}


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
