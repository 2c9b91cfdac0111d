"""One decision at a time across every process on the store: a named lock.

Some decisions read, then write in several steps: "is a pipeline with this key
still active? then cancel it and launch" (duplicate policies), "is this
concurrency group free? then queue its Exec". Two servers, or two engines, must
not both take them at once. On PostgreSQL the lock is an advisory lock held on a
connection of its own for the decision; on SQLite (one host) it is an exclusive
``flock`` on a file beside the database.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from sqlalchemy import text

from ci_bot.store.transactions import Transactions


def lock_number(name: str) -> int:
    """A signed 64-bit number for ``name`` (PostgreSQL's advisory lock key)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class ExclusiveRecords(Transactions):
    _local_locks: ClassVar[dict[str, threading.Lock]] = {}
    _local_guard: ClassVar[threading.Lock] = threading.Lock()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lock ``name`` (across processes and hosts) while the block runs."""
        with self._local_lock(name):  # threads of this process queue here, not in the database
            if self.engine.dialect.name == "postgresql":
                with self._advisory(name):
                    yield
            else:
                with self._file_lock(name):
                    yield

    @contextmanager
    def _advisory(self, name: str) -> Iterator[None]:
        key = lock_number(name)
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()

    @contextmanager
    def _file_lock(self, name: str) -> Iterator[None]:
        database = self.engine.url.database or ""
        folder = Path(database).parent / "locks" if database else Path("/tmp/ci-bot-locks")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.lock"
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @classmethod
    def _local_lock(cls, name: str) -> threading.Lock:
        with cls._local_guard:
            return cls._local_locks.setdefault(name, threading.Lock())
