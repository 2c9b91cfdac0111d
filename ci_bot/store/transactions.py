"""Transactions: the one write path (a process-wide lock plus, on SQLite, BEGIN
IMMEDIATE) and plain reads; rows leave as frozen dataclasses."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from ci_bot.store.database import WRITE, open_engine

T = TypeVar("T")

# session.info key: what to do once the write's transaction committed (``after_commit``).
AFTER_COMMIT = "ci_bot_after_commit"


class NotFound(LookupError):
    """No such pipeline, node, execution or delivery."""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def record(cls: type[T], row: Any, **overrides: Any) -> T:
    """The dataclass ``cls`` filled from an ORM row (``overrides`` win)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    values = {name: getattr(row, name) for name in names if name not in overrides}
    return cls(**values, **overrides)


class Transactions:
    def __init__(self, url: str) -> None:
        self.engine = open_engine(url)
        self._write_lock = threading.Lock()

    def close(self) -> None:
        """Close the pooled connections (a server's sessions are held until then)."""
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_lock, self.engine.connect().execution_options(**{WRITE: True}) as conn:
            with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                committed: list[Callable[[], None]] = session.info.setdefault(AFTER_COMMIT, [])
                yield session
            conn.commit()
            for callback in committed:  # still under the write lock: in commit order
                callback()

    @staticmethod
    def _after_commit(session: Session, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the write ``session`` belongs to has committed (never, if
        it rolls back): what a process keeps in memory must not run ahead of the database."""
        session.info[AFTER_COMMIT].append(callback)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session
