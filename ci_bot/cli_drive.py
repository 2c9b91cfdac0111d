"""Driving a pipeline in the foreground (``run``, ``resume``, ``rerun``): the live tree
while the engine works here, the outcome after, and Ctrl-C or SIGTERM that cancel.

A signal is only noted by its handler: raised into ``Thread.join`` as a
KeyboardInterrupt it can leave the engine's thread looking dead while it still
runs (and the pipeline ``running`` for good).  The loop then cancels the
pipeline through the store, and the engine of this very process honours it at
its next tick: it kills the containers, and the pending nodes never run.  Then
one line says what happened, and the exit code is the shell's for the signal.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import NoReturn

import click

from ci_bot.cli_common import actor
from ci_bot.console import LiveView, failure_report
from ci_bot.engine import control
from ci_bot.progress import collecting_progress
from ci_bot.services import Services
from ci_bot.store.records import Pipeline
from ci_bot.store.views import pipeline_json
from ci_bot.tree.states import State
from ci_bot.web.ui.timing import times_of

logger = logging.getLogger(__name__)

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal, as shells do
SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
# How long a cancel may take to kill the containers before we stop waiting
# (SIGKILL is immediate; a pull under way is not interrupted).
CANCEL_WAIT_SECONDS = 30.0
TICK_SECONDS = 0.2


class NotedSignals:
    """SIGINT and SIGTERM noted instead of acted on, while the block runs."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._previous: dict[int, object] = {}

    def __enter__(self) -> NotedSignals:
        for number in EXIT_CODES:
            self._previous[number] = signal.signal(number, self._note)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)  # type: ignore[arg-type]

    def _note(self, number: int, frame: FrameType | None) -> None:
        self.received.append(number)


def drive(svc: Services, pipeline_id: int, as_json: bool) -> NoReturn:
    """Run the engine here until the pipeline settles, showing it; exit 0 done, 1 not,
    130 (Ctrl-C) or 143 (SIGTERM) when a signal cancelled it."""
    tty = sys.stdout.isatty() and not as_json
    view = LiveView(svc.store, pipeline_id, sys.stderr if as_json else sys.stdout, tty=tty)
    settled = threading.Event()

    def work() -> None:
        try:
            svc.engine.run_until_settled(pipeline_id)
        except Exception:
            logger.exception("the engine failed while driving pipeline %s", pipeline_id)
        finally:
            settled.set()

    with NotedSignals() as signals, collecting_progress() as progress, view:
        threading.Thread(target=work, name="ci-bot-drive", daemon=True).start()
        while not settled.wait(TICK_SECONDS) and not signals.received:
            if not as_json:
                view.show_progress(progress.take())
                view.update()
        if signals.received and svc.store.pipeline(pipeline_id).finished_at is None:
            _cancel(svc, pipeline_id, signals, settled, view, as_json)
        if not as_json:
            view.show_progress(progress.take())
            view.update()
    pipeline = svc.store.pipeline(pipeline_id)
    if pipeline.finished_at is None:
        raise click.ClickException(
            f"the engine stopped before pipeline {pipeline_id} ended (see above); "
            f"`ci-bot resume {pipeline_id}` continues it"
        )
    finish(svc, pipeline, as_json)


def _cancel(
    svc: Services,
    pipeline_id: int,
    signals: NotedSignals,
    settled: threading.Event,
    view: LiveView,
    as_json: bool,
) -> NoReturn:
    number = signals.received[0]
    name = SIGNAL_NAMES[signal.Signals(number)]
    running = _paths_in(svc, pipeline_id, State.QUEUED, State.RUNNING)
    waiting = _paths_in(svc, pipeline_id, State.PENDING)
    svc.store.cancel(pipeline_id, actor=f"{actor()} ({name})")
    svc.engine.wake()
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    # A second signal stops the waiting: whatever is still running is said, not hidden.
    while not settled.wait(0.1) and len(signals.received) < 2 and time.monotonic() < deadline:
        pass
    if view.tty:  # the tree's final state, drawn in place (plain output gets one line only)
        view.update()
    view.close()
    pipeline = svc.store.pipeline(pipeline_id)
    left = _paths_in(svc, pipeline_id, State.QUEUED, State.RUNNING)
    killed = [path for path in running if path not in left]
    if as_json:
        click.echo(json.dumps(pipeline_json(svc.store, pipeline_id), indent=2))
    click.echo(cancel_line(pipeline, name, killed, left, waiting), err=True)
    sys.exit(EXIT_CODES[signal.Signals(number)])


def cancel_line(
    pipeline: Pipeline, why: str, killed: list[str], left: list[str], waiting: list[str]
) -> str:
    """``pipeline 3 cancelled (Ctrl-C): killed /test/unit; /deploy did not run``."""
    if left:
        return (
            f"pipeline {pipeline.id} is being cancelled ({why}): {', '.join(left)} still "
            f"running; `ci-bot cancel {pipeline.id}` finishes it"
        )
    what = [f"killed {', '.join(killed)}" if killed else "no node was running"]
    if waiting:
        what.append(f"{', '.join(waiting)} did not run")
    return f"pipeline {pipeline.id} {pipeline.state.value} ({why}): {'; '.join(what)}"


def _paths_in(svc: Services, pipeline_id: int, *states: State) -> list[str]:
    return [node.path for node in svc.store.nodes(pipeline_id) if node.state in states]


def finish(svc: Services, pipeline: Pipeline, as_json: bool) -> NoReturn:
    """Print the outcome (the failed nodes' log tails, what to do next); exit 0 when done."""
    if as_json:
        click.echo(json.dumps(pipeline_json(svc.store, pipeline.id), indent=2))
    else:
        for line in failure_report(svc.store, pipeline.id):
            click.echo(line)
        # Time spent running; the wall time beside it when a wait or a reset made it longer.
        ran, wall = times_of(pipeline, svc.store.executions(pipeline.id)).shown()
        took = f"{ran or '0s'} ({wall} wall)" if wall else ran or "0s"
        click.echo(f"pipeline {pipeline.id} {pipeline.state.value} in {took}")
        if pipeline.state.is_failure:
            failed = control.failed_execs(svc.store, pipeline.id)
            path = failed[0] if len(failed) == 1 else "NODE_PATH"
            # The pipeline keeps the source it was launched with: a reset runs that again.
            click.echo(
                f"fix the cause, then `ci-bot reset {pipeline.id} {path}` and "
                f"`ci-bot resume {pipeline.id}`; a fix to the code needs a new run: "
                f"`ci-bot rerun {pipeline.id} --at HEAD` once committed"
            )
    sys.exit(0 if pipeline.state is State.DONE else 1)
