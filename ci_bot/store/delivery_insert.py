"""The one INSERT every webhook request makes, at the driver's speed.

A request to ``/webhooks/github`` stores its delivery before it is answered, so
this insert is most of the request's own time.  It is compiled once, for the
engine's dialect, and run on a pooled DBAPI connection: the same SQL and the
same column conversions SQLAlchemy would use (``bind_processor``), without a
``Connection``, its events and its transaction bookkeeping around one statement.

On PostgreSQL concurrent inserts commit in parallel and need no lock.  SQLite has
one writer: request threads take the process-wide write lock in turn, and each
holder gives the GIL up twice (execute, commit) and waits to get it back behind
the other threads' Python, so a burst of 32 clients convoyed behind a lock held
for milliseconds at a time (95 requests/s against 755 for one client).  So on
SQLite the inserts are committed in groups: the thread that finds no writer at
work leads, inserting everything queued meanwhile in one transaction, then hands
the lead to the first of those who queued during its commit.  A duplicate id
aborts only its own statement (SQLite keeps the rest of the transaction).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert

from ci_bot.store.tables import DeliveryRow


@dataclass(eq=False)
class _Queued:
    """One request's row waiting for a group commit, and what became of it."""

    params: Any
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to commit the next group, not with its own answer
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
        self._lock = write_lock if dialect.name == "sqlite" else None
        self._queue: list[_Queued] = []
        self._queue_lock = threading.Lock()
        self._leading = False

    def __call__(self, row: Mapping[str, object]) -> bool:
        """Insert ``row`` (every column) and commit; False when its id is there already."""
        values = {name: self._bound(name, value) for name, value in row.items()}
        params: Any = values if self._positions is None else [values[n] for n in self._positions]
        if self._lock is None:
            return self._insert(params)
        mine = _Queued(params)
        with self._queue_lock:
            self._queue.append(mine)
            lead, self._leading = not self._leading, True
        while True:
            if lead:
                self._commit_group()
            mine.done.wait()
            if not mine.lead:
                break
            mine.lead, lead = False, True
            mine.done.clear()  # handed the lead before its own row was committed
        if mine.error is not None:
            raise mine.error
        return mine.inserted

    def _commit_group(self) -> None:
        """Insert every queued row in one transaction, answer each, hand the lead on."""
        with self._queue_lock:
            group, self._queue = self._queue, []
        assert self._lock is not None
        with self._lock:
            self._insert_group(group)
        for queued in group:
            queued.done.set()
        with self._queue_lock:
            if self._queue:  # queued while this group committed: its first one leads
                self._queue[0].lead = True
                self._queue[0].done.set()
            else:
                self._leading = False

    def _bound(self, name: str, value: Any) -> Any:
        convert = self._convert[name]
        return convert(value) if convert is not None and value is not None else value

    def _insert_group(self, group: list[_Queued]) -> None:
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")  # autocommit connections (``database``)
                for queued in group:
                    try:
                        cursor.execute(self._sql, queued.params)
                        queued.inserted = True
                    except self._duplicate:
                        queued.inserted = False
                cursor.execute("COMMIT")
            except BaseException as error:
                if connection.in_transaction:
                    cursor.execute("ROLLBACK")
                for queued in group:
                    queued.inserted, queued.error = False, error
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool

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
