"""Showing a pipeline in the terminal while it runs, and after.

On a TTY, ``rich`` redraws the tree in place (states, a spinner, durations),
cut to the terminal: a line never wraps and the tree never outgrows the screen
(a redraw can only move the cursor up to the screen's top; whatever is taller
is left behind in the scrollback as a stale copy).  When it has to be cut, the
running and failed nodes are kept and the rest counted.  Anywhere else each
change is one plain line, so CI logs and pipes stay readable (and parseable).
What a repository or its nodes wrote (branch names, messages, log lines) goes
through ``printable``: a branch named with an escape sequence cannot retitle
the terminal.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from ci_bot.executors.logs import tail
from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import Store, utcnow
from ci_bot.text import printable
from ci_bot.tree.derive import node_states
from ci_bot.tree.durations import format_duration
from ci_bot.tree.nodes import Node, walk
from ci_bot.tree.render import draw_tree
from ci_bot.tree.states import State

if TYPE_CHECKING:  # rich is imported where a view draws: `ci-bot list` shows none
    from rich.console import Console, Group
    from rich.live import Live

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
STYLES = {
    State.DONE: "green",
    State.ERROR: "red",
    State.WORKER_ERROR: "magenta",
    State.RUNNING: "cyan",
    State.SKIPPED: "bright_black",
}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
# Worth a row when the tree must be cut to the screen: what a person is waiting on.
WATCHED = (State.RUNNING, State.QUEUED, State.ERROR, State.WORKER_ERROR)


@dataclass(frozen=True)
class Row:
    """One node's line: the tree drawing and name, then its state's annotation."""

    path: str
    tree: str
    annotation: str
    state: State


class LiveView:
    """A pipeline on ``out``: redrawn in place (``tty``) or told change by change."""

    def __init__(
        self,
        store: Store,
        pipeline_id: int,
        out: TextIO,
        *,
        tty: bool,
        size: tuple[int, int] | None = None,  # (width, height); None: the terminal's
    ) -> None:
        self.store, self.pipeline_id, self.out, self.tty = store, pipeline_id, out, tty
        self._size = size
        self._live: Live | None = None
        self._last_event = 0
        self._spinner = itertools.cycle(SPINNER)

    @functools.cached_property
    def console(self) -> Console:
        """rich's console, made when a terminal is first drawn on: a view that only tells
        changes line by line (a CI log, ``--json``'s stderr) never loads rich."""
        from rich.console import Console

        width, height = self._size if self._size is not None else (None, None)
        return Console(
            file=self.out, force_terminal=self.tty, width=width, height=height, highlight=False
        )

    def update(self) -> None:
        if self.tty:
            self._redraw()
        else:
            self._print_events()

    def show_progress(self, lines: list[str]) -> None:
        """Progress lines (pulls, builds, services): above the tree on a TTY, which is
        drawn again below them; plain lines elsewhere."""
        if not lines:
            return
        stamp = utcnow().strftime("%H:%M:%S")  # as the event lines are stamped
        for line in lines:
            text = printable(f"{stamp}  {line}")
            if self.tty:
                from rich.text import Text

                self.console.print(Text(text, no_wrap=True, overflow="ellipsis"), crop=True)
            else:
                self.out.write(text + "\n")
        self.out.flush()

    def close(self) -> None:
        """Stop redrawing, leaving the whole tree (uncut, once) as its final state."""
        if self._live is not None:
            self._live.update(self._frame("▶", whole=True))
            self._live.stop()  # the last refresh shows all of it, however tall
            self._live = None

    def __enter__(self) -> LiveView:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _redraw(self) -> None:
        frame = self._frame(next(self._spinner))
        if self._live is None:
            from rich.live import Live

            self._live = Live(
                frame,
                console=self.console,
                auto_refresh=False,  # we redraw once per tick of the loop that drives
                vertical_overflow="crop",
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        self._live.update(frame, refresh=True)

    def _frame(self, spinner: str, *, whole: bool = False) -> Group:
        from rich.console import Group
        from rich.text import Text

        header, rows = self._rows(spinner)
        # The header and a row for the cursor: the frame never reaches the screen's top.
        room = len(rows) if whole else max(self.console.size.height - 2, 2)
        shown, hidden = fit_rows(rows, room)
        lines = [Text(header, style="bold")]
        for row in shown:
            line = Text(row.tree)
            line.append(row.annotation, style=STYLES.get(row.state, ""))
            lines.append(line)
        if hidden:
            lines.append(Text(f"… {hidden_summary(hidden)}", style="bright_black"))
        for line in lines:
            line.no_wrap, line.overflow = True, "ellipsis"
        return Group(*lines)

    def _print_events(self) -> None:
        for event in self.store.events(self.pipeline_id, after=self._last_event):
            self._last_event = event.id
            if event.kind in ("state", "reset", "skip", "unskip", "cancel", "retry", "finished"):
                stamp = event.created_at.strftime("%H:%M:%S")
                text = f"{stamp}  {event.path:<30} {event.kind if event.kind != 'state' else ''}"
                text = f"{text.rstrip()} {event.state} {event.message}".rstrip()
                self.out.write(printable(text) + "\n")
        self.out.flush()

    def render(self, *, spinner: str = "▶") -> list[str]:
        """The header and the whole tree as plain lines (``ci-bot show``)."""
        header, rows = self._rows(spinner)
        return [header, *[f"{row.tree}{row.annotation}".rstrip() for row in rows]]

    def _rows(self, spinner: str) -> tuple[str, list[Row]]:
        pipeline = self.store.pipeline(self.pipeline_id)
        tree = self.store.tree(self.pipeline_id)
        states = node_states(tree, self.store.exec_states(self.pipeline_id))
        latest: dict[str, Execution] = {}
        for execution in self.store.executions(self.pipeline_id):
            latest[execution.path] = execution
        annotations: dict[str, str] = {}
        annotate = _annotator(states, latest, spinner, annotations)
        lines = draw_tree(tree, annotate)
        rows = []
        for (path, _, _), line in zip(walk(tree), lines, strict=True):
            annotation = annotations[path]
            rows.append(Row(path, line[: len(line) - len(annotation)], annotation, states[path]))
        return printable(header_line(pipeline)), rows


def header_line(pipeline: Pipeline) -> str:
    """``pipeline 7  acme/app  push main  1a2b3c4d5e6f (dirty)``."""
    where = " ".join(part for part in (pipeline.event, pipeline.branch or pipeline.tag) if part)
    if pipeline.pr:
        where += f" #{pipeline.pr}"
    sha = pipeline.sha[:12] + (" (dirty)" if pipeline.dirty else "") if pipeline.sha else ""
    return "  ".join(
        part for part in (f"pipeline {pipeline.id}", pipeline.repo, where, sha) if part
    )


def fit_rows(rows: list[Row], room: int) -> tuple[list[Row], list[Row]]:
    """(shown, hidden): at most ``room`` rows, in tree order, and the rest.  The root and
    the nodes a person waits on (running, queued, failed) come first, then the others
    from the top; when some are hidden, one of the ``room`` rows says how many."""
    if len(rows) <= room:
        return rows, []
    budget = room - 1  # the "… N more" line
    ranked = sorted(
        range(len(rows)),
        key=lambda i: (i != 0, rows[i].state not in WATCHED, i),
    )
    keep = set(ranked[:budget])
    shown = [row for i, row in enumerate(rows) if i in keep]
    hidden = [row for i, row in enumerate(rows) if i not in keep]
    return shown, hidden


def hidden_summary(hidden: list[Row]) -> str:
    """``12 more nodes: 9 done, 3 pending``."""
    counts = Counter(row.state.value for row in hidden)
    parts = ", ".join(f"{count} {state}" for state, count in counts.most_common())
    return f"{len(hidden)} more node{'s' if len(hidden) != 1 else ''}: {parts}"


def _annotator(
    states: dict[str, State],
    latest: dict[str, Execution],
    spinner: str,
    annotations: dict[str, str],
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
        annotations[path] = printable(text).rstrip()  # as draw_tree ends the line
        return annotations[path]

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
