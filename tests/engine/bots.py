"""A ci-bot on the test's Docker engine, for the engine's real-container tests.

``Bot`` launches pipelines from repository directories and drives them with the
real Engine, DockerExecutor and SQLite store; the ``make_bot`` and ``bot``
fixtures (``tests/engine/conftest.py``) make one per test and check that no
container was left behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from textwrap import dedent

from docker import DockerClient

from ci_bot.engine.context import pipeline_dir
from ci_bot.engine.launch import launch_local
from ci_bot.engine.scheduler import node_states
from ci_bot.executors.images import BUSYBOX_IMAGE
from ci_bot.services import Services
from ci_bot.settings import Settings
from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import Store
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from tests.containers import ContainerEvent, container_events
from tests.gitrepos import Files, write_files

PUSH_MAIN = Event("push", branch="main")
SETTLE_SECONDS = 60.0

# wait_for NAME: wait (at most 10 s) until $CI_DATA/NAME exists, else fail loudly.
WAIT_FOR = """
wait_for() {
  i=0
  while [ ! -e "$CI_DATA/$1" ]; do
    i=$((i + 1)); [ "$i" -gt 100 ] && { echo "gave up waiting for $1"; exit 1; }
    sleep 0.1
  done
}
"""


def config(body: str, *, root: str = "", image: str = BUSYBOX_IMAGE) -> str:
    """A conducto.cfg whose push runs [pipeline.main] on ``image``; ``root``: more root keys."""
    return f'[push]\n\n[pipeline.main]\nimage = "{image}"\n{dedent(root)}\n{dedent(body)}'


@dataclass
class Bot:
    """One ci-bot (its own data dir, store and engine) on the test's Docker engine."""

    services: Services
    docker: DockerClient
    root: Path

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def repo(self, cfg: str, files: Files | None = None, name: str = "app") -> Path:
        path = self.root / "repos" / name
        write_files(path, {"conducto.cfg": cfg, **(files or {})})
        return path

    def launch(self, repo: Path, event: Event = PUSH_MAIN) -> int:
        return launch_local(self.store, self.settings, self.services.executor, repo, event)

    def run(self, pipeline_id: int) -> Pipeline:
        """Drive the pipeline until it settles (failing the test past a minute)."""
        result: list[Pipeline] = []
        worker = threading.Thread(
            target=lambda: result.append(self.services.engine.run_until_settled(pipeline_id)),
            daemon=True,
        )
        worker.start()
        worker.join(SETTLE_SECONDS)
        assert result, f"pipeline {pipeline_id} did not settle within {SETTLE_SECONDS}s"
        return result[0]

    def data(self, pipeline_id: int) -> Path:
        return pipeline_dir(self.settings, pipeline_id) / "data"

    def states(self, pipeline_id: int) -> dict[str, State]:
        """Every node's state, parents derived."""
        tree = self.store.tree(pipeline_id)
        return node_states(tree, self.store.exec_states(pipeline_id))

    def executions(self, pipeline_id: int, path: str) -> list[Execution]:
        return self.store.executions(pipeline_id, path)

    def only(self, pipeline_id: int, path: str) -> Execution:
        [execution] = self.executions(pipeline_id, path)
        return execution

    def container_events(
        self, pipeline_id: int, since: float, actions: tuple[str, ...] = ("start", "die")
    ) -> list[ContainerEvent]:
        """Docker's events of this bot's containers of the pipeline, since ``since``."""
        ours = [(e.id, e.path) for e in self.store.executions(pipeline_id)]
        return container_events(self.docker, pipeline_id, since, actions, ours)

    def starts(self, pipeline_id: int, since: float) -> list[str]:
        """The node of every container of the pipeline started since ``since``, sorted."""
        return sorted(e.node for e in self.container_events(pipeline_id, since, ("start",)))


def log(execution: Execution) -> list[str]:
    """An execution's log lines without their timestamps."""
    text = Path(execution.log_path).read_text(encoding="utf-8")
    return [line.split(" ", 1)[1] if " " in line else "" for line in text.splitlines()]


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime


def span(execution: Execution) -> Span:
    """When the execution's container ran, as the store recorded it."""
    assert execution.started_at and execution.ended_at, execution
    return Span(execution.started_at, execution.ended_at)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def logs_of(bot: Bot, pipeline_id: int, path: str) -> str:
    """What the node's executions logged so far (nothing before its first one)."""
    paths = [Path(e.log_path) for e in bot.executions(pipeline_id, path)]
    return "".join(p.read_text() for p in paths if p.exists())
