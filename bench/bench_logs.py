"""Logs at disk speed: a node that prints a lot, through ci-bot and through bare Docker.

    .venv/bin/python bench/run.py --only logs [--quick]

Two rows of issue #11's table:

* "a step printing 500 MB": ``yes`` of a 99-character line (100-byte lines, 5 million
  of them) cut at 500 MB (``--quick``: 50 MB);
* "a step printing 500 k short lines": ``seq 500000`` (``--quick``: 50 000).

ci-bot's side is one ``DockerExecutor.run`` of an Exec with that command: the unit
a pipeline pays for a node (workspace image, create, attach, start, following the
output into the node's log file with per-line timestamps and secret masking, wait,
remove).  The node holds one secret, so masking does its full work; its workspace
image exists already (a warm-up run makes it), as for every node of a pipeline but
its first.

Bare is what a person would run without ci-bot: ``docker run --rm IMAGE sh -c CMD``
from the Docker CLI, its output (stdout and stderr) written to a file.  Docker keeps
its own json-file log in both cases.  The two sides alternate, round by round.

Also printed: the peak RSS of this process while ci-bot's side ran (the log must
stream, never be held: it stays flat however much is printed), and the CPU time
ci-bot's side used per run (on a busy 2-core machine that, more than anything, is
what it costs over bare: Docker's daemon does the same work in both).
"""

from __future__ import annotations

import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import psutil
from harness import Row, interleave, timed

from ci_bot.executors.base import ExecSpec
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.images import BUSYBOX_IMAGE

LINE = ("0123456789" * 10)[:99]  # plus its newline: 100 bytes


def run(quick: bool) -> list[Row]:
    if shutil.which("docker") is None:
        raise SystemExit("bench_logs needs the docker CLI for its bare baseline")
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as folder:
        bench = _LogBench(Path(folder))
        bench.warm_up()
        try:
            return bench.rows(quick)
        finally:
            bench.release()


class _LogBench:
    def __init__(self, root: Path) -> None:
        self._root = root
        (root / "source").mkdir()
        self._pipeline = f"bench-logs-{uuid.uuid4().hex[:8]}"
        self._executor = DockerExecutor()
        self._secret = secrets.token_urlsafe(24)

    def warm_up(self) -> None:
        """One small node: the busybox image is there and the workspace image is built."""
        result = self._executor.run(self._spec("echo warm"))
        if result.state != "done":
            raise SystemExit(f"the warm-up node failed: {result.message}")

    def release(self) -> None:
        """The pipeline's containers and its workspace image (which a release keeps for a
        reset until the pipeline is archived: this one never is)."""
        self._executor.wait_for_removals(60)
        self._executor.discard_pipeline(self._pipeline)

    def rows(self, quick: bool) -> list[Row]:
        rounds = 3 if quick else 5
        megabytes, lines = (50, 50_000) if quick else (500, 500_000)
        return [
            self.row(
                f"a step printing {megabytes} MB",
                f"yes {LINE} | head -c {megabytes * 1_000_000}",
                rounds,
                target=1.2,
            ),
            self.row(
                f"a step printing {lines // 1000} k short lines",
                f"seq {lines}",
                rounds,
                target=1.5,
            ),
        ]

    def row(self, measure: str, command: str, rounds: int, target: float) -> Row:
        rss = _PeakRss()

        cpu: list[float] = []

        def ours() -> float:
            spec = self._spec(command)
            before = _cpu_seconds()
            with rss:
                seconds = timed(lambda: self._check(self._executor.run(spec).state))
            cpu.append(_cpu_seconds() - before)
            spec.log_path.unlink()  # do not keep 500 MB per round
            return seconds

        def bare() -> float:
            out = self._root / "bare.log"
            argv = ["docker", "run", "--rm", BUSYBOX_IMAGE, "sh", "-c", command]
            with out.open("wb") as sink:
                seconds = timed(lambda: subprocess.run(argv, stdout=sink, stderr=sink, check=True))
            out.unlink()
            return seconds

        mine, theirs = interleave(rounds, ours, bare)
        notes = [
            f"ci-bot peak RSS {rss.peak / 2**20:.0f} MiB "
            f"(grew at most {rss.growth / 2**20:.1f} MiB during a run); "
            f"ci-bot's own CPU per run, median {statistics.median(cpu):.2f} s"
        ]
        return Row(measure, mine, theirs, target, notes=notes)

    def _spec(self, command: str) -> ExecSpec:
        execution = uuid.uuid4().hex
        return ExecSpec(
            pipeline_id=self._pipeline,
            node_path="/bench/print",
            execution_id=execution,
            image=BUSYBOX_IMAGE,
            command=command,
            source_dir=self._root / "source",
            data_dir=self._root / "data",
            cache_dir=self._root / "cache",
            log_path=self._root / "logs" / f"{execution}.log",
            secrets={"DEPLOY_TOKEN": self._secret},
        )

    @staticmethod
    def _check(state: str) -> None:
        if state != "done":
            raise SystemExit(f"the benchmark node ended {state}")


def _cpu_seconds() -> float:
    """User and system CPU this process used so far (its threads included)."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


class _PeakRss:
    """This process's largest RSS (and growth over its RSS at entry) while inside."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.peak = 0
        self.growth = 0
        self._stop = threading.Event()

    def __enter__(self) -> _PeakRss:
        self._baseline = int(self._process.memory_info().rss)
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            rss = int(self._process.memory_info().rss)
            self.peak = max(self.peak, rss)
            self.growth = max(self.growth, rss - self._baseline)
            if self._stop.wait(0.02):
                return
