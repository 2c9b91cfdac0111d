"""The one INSERT every webhook request makes, at the driver's speed.

A request to ``/webhooks/github`` stores its delivery before it is answered, so
this insert is most of the request's own time.  It is compiled once, for the
engine's dialect, and run on a pooled DBAPI connection: the same SQL and the
same column conversions SQLAlchemy would use (``bind_processor``), without a
``Connection``, its events and its transaction bookkeeping around one statement.

On SQLite the insert is its own transaction (the connections run in autocommit,
see ``database``) and the process-wide write lock keeps request threads from
spinning on SQLite's one writer; on PostgreSQL concurrent inserts commit in
parallel and need no lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, insert

from ci_bot.store.tables import DeliveryRow


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

    def __call__(self, row: Mapping[str, object]) -> bool:
        """Insert ``row`` (every column) and commit; False when its id is there already."""
        values = {name: self._bound(name, value) for name, value in row.items()}
        params: Any = values if self._positions is None else [values[n] for n in self._positions]
        if self._lock is None:
            return self._insert(params)
        with self._lock:
            return self._insert(params)

    def _bound(self, name: str, value: Any) -> Any:
        convert = self._convert[name]
        return convert(value) if convert is not None and value is not None else value

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
