"""Reporters follow the run events; nothing in the engine calls GitHub or Slack.

The hub reads every pipeline's run events in order from the store and hands
them to each reporter, then lets each flush.  A reporter coalesces (at most
about one update per second per thing it reports on, the final state always
sent) and retries with backoff itself; whatever it raises is logged and never
fails a build.  Each reporter's position is saved, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from ci_bot.metrics import reporter_error
from ci_bot.store.records import RunEvent
from ci_bot.store.store import Store

logger = logging.getLogger(__name__)


class Reporter(Protocol):
    name: str

    def on_event(self, event: RunEvent) -> None:
        """Note what happened (cheap: no network)."""
        ...

    def flush(self) -> None:
        """Send what is due; called often, after every batch of events."""
        ...


class ReporterHub:
    """Feeds each reporter on its own thread, so a slow Slack never delays GitHub."""

    def __init__(self, store: Store, reporters: list[Reporter], poll_seconds: float = 0.25):
        self.store = store
        self.reporters = reporters
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for reporter in self.reporters:
            thread = threading.Thread(
                target=self._loop, args=(reporter,), name=f"reporter-{reporter.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self.step()  # the final states still go out

    def wake(self) -> None:
        self._wake.set()

    def _loop(self, reporter: Reporter) -> None:
        while not self._stop.is_set():
            self._step_one(reporter)
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def step(self) -> None:
        """Deliver new events to every reporter, then let each flush (in this thread)."""
        for reporter in self.reporters:
            self._step_one(reporter)

    def _step_one(self, reporter: Reporter) -> None:
        try:
            self._feed(reporter)
            reporter.flush()
        except Exception:  # a reporter's outage must never stop the others
            logger.exception("reporter %s failed; it will be retried", reporter.name)
            reporter_error(reporter.name)

    def _feed(self, reporter: Reporter) -> None:
        position = self.store.cursor(reporter.name)
        while True:
            events = self.store.events_after(position)
            if not events:
                return
            for event in events:
                reporter.on_event(event)
                position = event.id
            self.store.save_cursor(reporter.name, position)
