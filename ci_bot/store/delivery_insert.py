"""The one INSERT every webhook request makes, at the driver's speed.

A request to ``/webhooks/github`` stores its delivery before it is answered, so
this insert is most of the request's own time.  It is compiled once, for the
engine's dialect, and run on a pooled DBAPI connection: the same SQL and the
same column conversions SQLAlchemy would use (``bind_processor``), without a
``Connection``, its events and its transaction bookkeeping around one statement.

On PostgreSQL concurrent inserts commit in parallel and need no lock.  SQLite has
one writer, so on SQLite one thread writes them all: a request thread queues its
row and waits; the writer thread takes every row queued, inserts them in one
transaction under the process-wide write lock, commits, and answers each waiting
thread (its row inserted, a duplicate, or the error).  A burst's requests thus
share commits instead of convoying behind the lock, each holder of which gave the
GIL up and waited to get it back behind the other threads' Python (a burst of 32
clients ran at 95 requests/s against 755 for one client before rows were grouped).
A duplicate id aborts only its own statement (SQLite keeps the rest of the
transaction).

The writer keeps one connection of its own, taken out of the pool while it runs,
and ends (closing it) after ``IDLE`` seconds with nothing to write, so a store
that is closed leaves no thread behind for long.  That connection does not run
SQLite's automatic WAL checkpoint at a commit, which made the commit that crossed
the WAL's threshold wait for two fsyncs (tens of ms on a busy disk, and every
request queued behind it): the writer checkpoints after ``QUIET`` seconds without
a row instead (the other connections keep their automatic checkpoints).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert

from ci_bot.store.tables import DeliveryRow

logger = logging.getLogger(__name__)

IDLE = 2.0  # seconds the writer thread waits for a row before it ends
QUIET = 0.25  # seconds without a row before the writer checkpoints what it wrote


@dataclass(eq=False)
class _Queued:
    """One request's row waiting for the writer, and what became of it."""

    params: Any
    done: threading.Event = field(default_factory=threading.Event)
    inserted: bool = False
    error: BaseException | None = None


class DeliveryInsert:
    def __init__(self, engine: Engine, write_lock: threading.Lock) -> None:
        dialect = engine.dialect
        compiled = insert(DeliveryRow).compile(dialect=dialect)
        self._engine = engine
        self._sql = str(compiled)
        self._positions = compiled.positiontup  # None for a named paramstyle (psycopg)
        columns = DeliveryRow.__table__.columns
        self._convert: dict[str, Callable[[Any], Any] | None] = {
            column.name: column.type.bind_processor(dialect) for column in columns
        }
        self._duplicate: type[Exception] = dialect.loaded_dbapi.IntegrityError
        self._error: type[Exception] = dialect.loaded_dbapi.Error
        self._lock = write_lock if dialect.name == "sqlite" else None
        self._queue: list[_Queued] = []
        self._changed = threading.Condition()
        self._writing = False  # a writer thread runs (and will see what is queued)

    def __call__(self, row: Mapping[str, object]) -> bool:
        """Insert ``row`` (every column) and commit; False when its id is there already."""
        values = {name: self._bound(name, value) for name, value in row.items()}
        params: Any = values if self._positions is None else [values[n] for n in self._positions]
        if self._lock is None:
            return self._insert(params)
        mine = _Queued(params)
        with self._changed:
            self._queue.append(mine)
            if self._writing:
                self._changed.notify()
            else:
                self._writing = True
                threading.Thread(
                    target=self._write, name="ci-bot-delivery-writer", daemon=True
                ).start()
        mine.done.wait()
        if mine.error is not None:
            raise mine.error
        return mine.inserted

    def _write(self) -> None:
        """The writer thread: commit what is queued, a group at a time, until idle."""
        try:
            connection = self._engine.raw_connection()
            connection.detach()  # its own while it runs: closed at the end, not pooled
            try:
                self._write_groups(connection.cursor())
            finally:
                connection.close()
        except BaseException as error:  # no connection: no row may wait for ever
            with self._changed:
                left, self._queue, self._writing = self._queue, [], False
            for queued in left:
                queued.error = error
                queued.done.set()
            raise

    def _write_groups(self, cursor: Any) -> None:
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # the idle writer checkpoints instead
        unchecked = False  # rows committed since the last checkpoint
        while True:
            with self._changed:
                if not self._queue:
                    self._changed.wait(QUIET if unchecked else IDLE)
                group, self._queue = self._queue, []
                if not group and not unchecked:
                    self._writing = False  # the next row starts a writer again
                    return
            if not group:  # a quiet moment: a checkpoint delays nobody now
                self._checkpoint(cursor)
                unchecked = False
                continue
            assert self._lock is not None
            with self._lock:
                self._insert_group(cursor, group)
            unchecked = True
            for queued in group:
                queued.done.set()

    def _checkpoint(self, cursor: Any) -> None:
        """Copy the WAL into the database (PASSIVE: it waits for no reader or writer)."""
        try:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except self._error as error:  # the other connections' own checkpoints remain
            logger.warning("WAL checkpoint after webhook inserts failed: %s", error)

    def _bound(self, name: str, value: Any) -> Any:
        convert = self._convert[name]
        return convert(value) if convert is not None and value is not None else value

    def _insert_group(self, cursor: Any, group: list[_Queued]) -> None:
        try:
            cursor.execute("BEGIN IMMEDIATE")  # autocommit connections (``database``)
            for queued in group:
                try:
                    cursor.execute(self._sql, queued.params)
                    queued.inserted = True
                except self._duplicate:
                    queued.inserted = False
            cursor.execute("COMMIT")
        except Exception as error:  # every row of the group gets it as its answer
            if cursor.connection.in_transaction:
                with contextlib.suppress(Exception):
                    cursor.execute("ROLLBACK")
            for queued in group:
                queued.inserted, queued.error = False, error

    def _insert(self, params: Any) -> bool:
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, params)
            finally:
                cursor.close()
            connection.commit()
        except self._duplicate:
            connection.rollback()
            return False
        finally:
            connection.close()  # back to the pool
        return True
