"""A fake executor for the engine's tests: it replays expected runs.

Like Buildbot's ``ExpectShell``, each expectation says which node runs (and,
optionally, which command) and how it ends.  An unexpected run fails the
execution with a loud message, and ``assert_all_used`` fails the test when an
expected run never came.  ``hold`` makes a run block until released, so tests
can observe what runs at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ci_bot import workspace_git
from ci_bot.executors.base import (
    CANCELLED,
    DONE,
    ERROR,
    WORKER_ERROR,
    ExecResult,
    ExecSpec,
    RunningContainer,
)


@dataclass
class Expect:
    path: str
    state: str = DONE
    exit_code: int | None = 0
    output: str = ""
    command: str | None = None
    hold: threading.Event | None = None
    files: dict[str, str] = field(default_factory=dict)  # written into $CI_DATA when it runs


@dataclass
class FakeExecutor:
    """Replays expectations; like a real executor, it writes the ``.git`` a node's
    workspace gets (``builds_workspaces=False``: an executor that builds none)."""

    expected: list[Expect] = field(default_factory=list)
    ran: list[ExecSpec] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)  # pipeline ids, by release_pipeline
    discarded: list[str] = field(default_factory=list)  # pipeline ids, by discard_pipeline
    image_ids: dict[str, str | None] = field(default_factory=dict)  # for image_id()
    peak: int = 0
    builds_workspaces: bool = True
    _active: dict[str, threading.Event] = field(default_factory=dict)
    _killed: set[str] = field(default_factory=set)  # killed before their run() began
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, path: str, state: str = DONE, **details: object) -> FakeExecutor:
        exit_code = details.pop("exit_code", 0 if state == DONE else 1 if state == ERROR else None)
        self.expected.append(Expect(path, state, exit_code, **details))  # type: ignore[arg-type]
        return self

    def run(self, spec: ExecSpec, on_started: Callable[[str], None] | None = None) -> ExecResult:
        expectation = self._take(spec)
        if expectation is None:
            return ExecResult(
                WORKER_ERROR, None, f"FakeExecutor: unexpected run of {spec.node_path}"
            )
        cancel = threading.Event()
        with self._lock:
            if spec.execution_id in self._killed:
                cancel.set()  # as DockerExecutor does: a kill may come before the start
            self._active[spec.execution_id] = cancel
            self.peak = max(self.peak, len(self._active))
        try:
            if self.builds_workspaces:
                workspace_git.provide(here for here, _ in spec.workspace_extras)
            if on_started:
                on_started(f"fake-{spec.execution_id}")
            spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            spec.log_path.write_text(expectation.output, encoding="utf-8")
            for name, text in expectation.files.items():
                (spec.data_dir / name).parent.mkdir(parents=True, exist_ok=True)
                (spec.data_dir / name).write_text(text, encoding="utf-8")
            while expectation.hold is not None and not expectation.hold.wait(0.01):
                if cancel.is_set():
                    return ExecResult(CANCELLED, None, "cancelled")
            if cancel.is_set():
                return ExecResult(CANCELLED, None, "cancelled")
            message = (
                "" if expectation.state == DONE else f"exited with code {expectation.exit_code}"
            )
            return ExecResult(expectation.state, expectation.exit_code, message)
        finally:
            with self._lock:
                self._active.pop(spec.execution_id, None)

    def _take(self, spec: ExecSpec) -> Expect | None:
        with self._lock:
            self.ran.append(spec)
            for index, expectation in enumerate(self.expected):
                if expectation.path == spec.node_path:
                    del self.expected[index]
                    if expectation.command not in (None, spec.command):
                        self.unexpected.append(f"{spec.node_path}: ran {spec.command!r}")
                    return expectation
            self.unexpected.append(spec.node_path)
            return None

    def reattach(self, container_id: str, spec: ExecSpec) -> ExecResult:
        return self.run(spec)

    def kill(self, execution_id: str, bot_id: str = "") -> None:
        with self._lock:
            event = self._active.get(execution_id)
            if event is None:
                self._killed.add(execution_id)
        if event is not None:
            event.set()

    def running(self) -> list[RunningContainer]:
        return []

    def release_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        with self._lock:
            self.released.append(pipeline_id)

    def discard_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        with self._lock:
            self.discarded.append(pipeline_id)

    def held_pipelines(self, bot_id: str = "") -> set[str]:
        return set()

    def image_id(self, image: str) -> str | None:
        """``image_ids[image]`` when the test set it (None: missing), else a stable fake id."""
        return self.image_ids.get(image, f"sha256:fake-{image}")

    def assert_all_used(self) -> None:
        problems = [f"expected but never ran: {e.path}" for e in self.expected]
        problems += [f"ran unexpectedly: {path}" for path in self.unexpected]
        if problems:
            raise AssertionError("\n".join(problems))
