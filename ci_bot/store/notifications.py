"""Waking engines at once when another process changes a pipeline.

On PostgreSQL, a write a person asks for (a reset, skip, cancel) and a new pipeline
send ``NOTIFY`` in their own transaction, so the notice leaves exactly when the change
is visible; an engine ``LISTEN``s on a connection of its own and wakes on receipt
instead of on its next poll.  SQLite cannot tell another process anything: an engine
on it polls, one cheap read per wake.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

CHANNEL = "ci_bot_pipelines"
RECONNECT_SECONDS = 1.0
_WAIT_SECONDS = 1.0  # how long one wait for notices lasts: how soon ``stop`` is noticed


def can_notify(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def notify(session: Session, pipeline_id: int) -> None:
    """Tell listening engines, once ``session`` commits, that the pipeline changed."""
    if can_notify(session.get_bind().engine):
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": str(pipeline_id)},
        )


class Listener:
    """A thread that calls ``on_change(pipeline_id)`` for every notice (0 after a lost
    connection came back: changes may have been missed meanwhile)."""

    def __init__(self, engine: Engine, on_change: Callable[[int], None]) -> None:
        self.engine = engine
        self.on_change = on_change
        self.listening = threading.Event()  # set once LISTEN is in place
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start listening; False when the database cannot notify (SQLite)."""
        if not can_notify(self.engine):
            return False
        self._thread = threading.Thread(target=self._run, name="ci-bot-listen", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        missed = False
        while not self._stop.is_set():
            try:
                self._listen(missed)
            except Exception as error:  # the database went away: listen again once it is back
                if self._stop.is_set():
                    return
                logger.warning("listening for pipeline changes failed: %s; again shortly", error)
            self.listening.clear()
            missed = True
            self._stop.wait(RECONNECT_SECONDS)

    def _listen(self, missed: bool) -> None:
        pooled = self.engine.raw_connection()
        connection: Any = pooled.driver_connection
        pooled.detach()  # a connection of its own for as long as it listens
        try:
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            if missed:
                self.on_change(0)
            while not self._stop.is_set():
                for notice in connection.notifies(timeout=_WAIT_SECONDS):
                    payload = str(notice.payload)
                    self.on_change(int(payload) if payload.isdigit() else 0)
        finally:
            connection.close()
