"""Opening the database: SQLite by default (WAL, busy timeout), any SQLAlchemy URL otherwise;
either with a connection pool as large as the threads that share it (``sizing``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection

from ci_bot.sizing import pool_size

logger = logging.getLogger(__name__)

WRITE = "ci_bot_write"
SCHEMA_LOCK = 0x63695F626F74  # "ci_bot": the advisory lock key for schema changes
SQLITE_BUSY_MS = 30_000


def open_engine(url: str) -> Engine:
    """An engine with the schema in place (idempotent): a database at the newest
    revision costs one query; any other is made or upgraded under the schema lock."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_MS / 1000}, pool_size=pool_size()
        )
        _tune_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=pool_size())
    from ci_bot.store.migrate import is_newest, upgrade  # its tables import this module

    if is_newest(engine):  # the usual case: one query, no lock, no Alembic
        return engine
    with _schema_lock(engine):  # servers and workers starting at once on one database
        upgrade(engine)
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


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # With WAL, NORMAL syncs at checkpoints, not at every commit: a commit survives
        # the process crashing, and the database stays consistent through a power loss,
        # which may lose only the last commits.  A webhook's insert then costs no fsync
        # (GitHub redelivers what a lost commit dropped; its id makes that harmless).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        # A write takes the lock up front: two processes that both read and then
        # try to write would otherwise deadlock instead of waiting their turn.
        immediate = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
