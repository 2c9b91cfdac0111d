"""Showing a pipeline in the terminal while it runs, and after.

On a TTY the tree is redrawn in place (states, a spinner, durations); anywhere
else each change is one plain line, so CI logs and pipes stay readable.  What a
repository or its nodes wrote (branch names, messages, log lines) goes through
``printable``: a branch named with an escape sequence cannot retitle the terminal.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ci_bot.engine.scheduler import node_states
from ci_bot.executors.logs import tail
from ci_bot.store.records import Execution
from ci_bot.store.store import Store, utcnow
from ci_bot.text import printable
from ci_bot.tree.durations import format_duration
from ci_bot.tree.nodes import Node
from ci_bot.tree.render import draw_tree
from ci_bot.tree.states import State

ICONS = {
    State.PENDING: "·",
    State.QUEUED: "◌",
    State.RUNNING: "▶",
    State.DONE: "✔",
    State.ERROR: "✘",
    State.WORKER_ERROR: "⚠",
    State.CANCELLED: "⊘",
    State.SKIPPED: "↷",
}
COLOURS = {
    State.DONE: 32,
    State.ERROR: 31,
    State.WORKER_ERROR: 35,
    State.RUNNING: 36,
    State.SKIPPED: 90,
}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class LiveView:
    def __init__(self, store: Store, pipeline_id: int, out: TextIO, *, tty: bool) -> None:
        self.store, self.pipeline_id, self.out, self.tty = store, pipeline_id, out, tty
        self._drawn = 0
        self._last_event = 0
        self._spinner = itertools.cycle(SPINNER)

    def update(self) -> None:
        if self.tty:
            self._redraw()
        else:
            self._print_events()

    def show_progress(self, lines: list[str]) -> None:
        """Progress lines (pulls, builds, services) above the tree, which is drawn again
        below them; plain lines elsewhere."""
        if not lines:
            return
        if self.tty and self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0
        stamp = utcnow().strftime("%H:%M:%S")  # as the event lines are stamped
        for line in lines:
            self.out.write(printable(f"{stamp}  {line}") + "\n")
        self.out.flush()

    def _redraw(self) -> None:
        lines = self.render(colour=True, spinner=next(self._spinner))
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self._drawn = len(lines)

    def _print_events(self) -> None:
        for event in self.store.events(self.pipeline_id, after=self._last_event):
            self._last_event = event.id
            if event.kind in ("state", "reset", "skip", "unskip", "cancel", "retry", "finished"):
                stamp = event.created_at.strftime("%H:%M:%S")
                text = f"{stamp}  {event.path:<30} {event.kind if event.kind != 'state' else ''}"
                text = f"{text.rstrip()} {event.state} {event.message}".rstrip()
                self.out.write(printable(text) + "\n")
        self.out.flush()

    def render(self, *, colour: bool = False, spinner: str = "▶") -> list[str]:
        pipeline = self.store.pipeline(self.pipeline_id)
        tree = self.store.tree(self.pipeline_id)
        states = node_states(tree, self.store.exec_states(self.pipeline_id))
        latest: dict[str, Execution] = {}
        for execution in self.store.executions(self.pipeline_id):
            latest[execution.path] = execution
        header = (
            f"pipeline {pipeline.id}  {pipeline.repo}  {pipeline.event} {pipeline.branch}".rstrip()
        )
        annotate = _annotator(states, latest, colour, spinner)
        return [printable(header), *draw_tree(tree, annotate)]


def _annotator(
    states: dict[str, State], latest: dict[str, Execution], colour: bool, spinner: str
) -> Callable[[str, Node], str]:
    def annotate(path: str, node: Node) -> str:
        state = states[path]
        icon = spinner if state is State.RUNNING else ICONS[state]
        text = f"{icon} {state.value}"
        execution = latest.get(path)
        if execution is not None and execution.started_at is not None:
            text += f"  {format_duration(_seconds(execution.started_at, execution.ended_at))}"
        if execution is not None and execution.attempt > 1:
            text += f"  (attempt {execution.attempt})"
        if execution is not None and state.is_failure and execution.message:
            text += f"  — {execution.message}"
        text = printable(text)  # before our own colour codes go round it
        if colour and state in COLOURS:
            text = f"\x1b[{COLOURS[state]}m{text}\x1b[0m"
        return text

    return annotate


def _seconds(start: datetime, end: datetime | None) -> float:
    return ((end or utcnow()) - start).total_seconds()


def failure_report(store: Store, pipeline_id: int, lines: int = 20) -> list[str]:
    """The tail of each failed Exec's latest log, for the end of ``ci-bot run``."""
    report: list[str] = []
    latest: dict[str, Execution] = {}
    for execution in store.executions(pipeline_id):
        latest[execution.path] = execution
    for path, execution in latest.items():
        if not execution.state.is_failure:
            continue
        report.append(printable(f"── {path}: {execution.message or execution.state.value} ──"))
        # A node's colours stay (they only colour); any other escape sequence is shown.
        logged = tail(Path(execution.log_path), lines)
        report.extend(
            [printable(line, keep="\t", colours=True) for line in logged] or ["(no output)"]
        )
    return report
