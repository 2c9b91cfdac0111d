"""A node's log, shipped from the worker's disk to the shared store as it grows, and
followed from there into the server's copy, so the UI and API show it live."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ci_bot.store.shared import SharedRecords

logger = logging.getLogger(__name__)

INTERVAL = 0.3
CHUNK = 256 * 1024


class LogShipper:
    """Worker side: copies what the log file gained into the store, until stopped."""

    def __init__(self, store: SharedRecords, execution_id: int, path: Path) -> None:
        self._store, self._execution, self._path = store, execution_id, path
        self._offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"ship-{execution_id}", daemon=True)

    def __enter__(self) -> LogShipper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.ship()  # the last lines, once the writer closed the file

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            try:
                self.ship()
            except Exception:  # the next round tries again; the last one runs on exit
                logger.exception("shipping the log of execution %s failed", self._execution)

    def ship(self) -> None:
        try:
            with self._path.open("rb") as handle:
                handle.seek(self._offset)
                while data := handle.read(CHUNK):
                    self._store.append_log(self._execution, self._offset, data)
                    self._offset += len(data)
        except FileNotFoundError:
            pass  # not written yet


class LogFollower:
    """Server side: appends what arrived in the store to the server's copy of the log."""

    def __init__(self, store: SharedRecords, execution_id: int, path: Path) -> None:
        self._store, self._execution, self._path = store, execution_id, path
        self._offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"follow-{execution_id}", daemon=True
        )

    def __enter__(self) -> LogFollower:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.catch_up()

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            try:
                self.catch_up()
            except Exception:
                logger.exception("following the log of execution %s failed", self._execution)

    def catch_up(self) -> None:
        data = self._store.log_since(self._execution, self._offset)
        if not data:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("ab") as handle:
            handle.write(data)
        self._offset += len(data)
