"""Opening the database: SQLite by default (WAL, busy timeout), any SQLAlchemy URL otherwise."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection

from ci_bot.store.tables import Base

logger = logging.getLogger(__name__)

WRITE = "ci_bot_write"
SCHEMA_LOCK = 0x63695F626F74  # "ci_bot": the advisory lock key for schema changes
SQLITE_BUSY_MS = 30_000


def open_engine(url: str) -> Engine:
    """An engine with the schema in place (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        _tune_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    with _schema_lock(engine):  # servers and workers starting at once on one database
        Base.metadata.create_all(engine)
        add_missing_columns(engine)
    return engine


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, one process at a time makes or extends the schema (two making the
    same table at once would fail on the second); SQLite's own locking suffices."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK})
            connection.commit()


def add_missing_columns(engine: Engine) -> list[str]:
    """Columns a newer ci-bot added to an existing table, added in place.

    ``create_all`` makes missing tables but leaves existing ones alone, so a data
    dir made by an older version would fail on its first insert.  New columns are
    always additive with a default, which every database can add without a rewrite.
    """
    existing = inspect(engine)
    added = []
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            if not existing.has_table(table.name):
                continue
            present = {column["name"] for column in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                connection.exec_driver_sql(_add_column_sql(engine, table.name, column))
                added.append(f"{table.name}.{column.name}")
    if added:
        logger.info("database schema: added %s", ", ".join(added))
    return added


def _add_column_sql(engine: Engine, table: str, column: Column[Any]) -> str:
    kind = column.type.compile(dialect=engine.dialect)
    default = column.default.arg if column.default is not None else None  # type: ignore[attr-defined]
    if isinstance(default, bool):
        literal = "1" if default else "0"
        if engine.dialect.name == "postgresql":
            literal = "true" if default else "false"
        return f"ALTER TABLE {table} ADD COLUMN {column.name} {kind} NOT NULL DEFAULT {literal}"
    if isinstance(default, int | float):
        return f"ALTER TABLE {table} ADD COLUMN {column.name} {kind} NOT NULL DEFAULT {default}"
    if isinstance(default, str):
        quoted = default.replace("'", "''")
        return f"ALTER TABLE {table} ADD COLUMN {column.name} {kind} NOT NULL DEFAULT '{quoted}'"
    return f"ALTER TABLE {table} ADD COLUMN {column.name} {kind}"  # nullable


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        # A write takes the lock up front: two processes that both read and then
        # try to write would otherwise deadlock instead of waiting their turn.
        immediate = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
