"""The secret store's rows: sealed values with their repository, name and scope.

The store never sees a value in clear: ``ci_bot/secrets/`` seals before writing
and unseals after reading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select

from ci_bot.store.tables import SecretRow
from ci_bot.store.transactions import Transactions, utcnow


@dataclass(frozen=True)
class SecretRecord:
    repo: str
    name: str
    sealed: str = field(repr=False)
    branches: tuple[str, ...]
    events: tuple[str, ...]
    updated_at: datetime


class SecretRecords(Transactions):
    def put_secret(
        self, repo: str, name: str, sealed: str, branches: list[str], events: list[str]
    ) -> bool:
        """Store ``repo``'s secret ``name``; True when it replaced one."""
        now = utcnow()
        with self._write() as session:
            row = session.scalar(select(SecretRow).filter_by(repo=repo, name=name))
            replaced = row is not None
            if row is None:
                row = SecretRow(repo=repo, name=name, created_at=now)
                session.add(row)
            row.sealed = sealed
            row.branches = json.dumps(branches)
            row.events = json.dumps(events)
            row.updated_at = now
            return replaced

    def secret_records(self, repo: str | None = None) -> list[SecretRecord]:
        """Every secret (or ``repo``'s), by repository and name."""
        query = select(SecretRow).order_by(SecretRow.repo, SecretRow.name)
        if repo is not None:
            query = query.filter_by(repo=repo)
        with self._read() as session:
            return [
                SecretRecord(
                    row.repo,
                    row.name,
                    row.sealed,
                    tuple(json.loads(row.branches)),
                    tuple(json.loads(row.events)),
                    row.updated_at,
                )
                for row in session.scalars(query)
            ]

    def delete_secret(self, repo: str, name: str) -> bool:
        """Forget ``repo``'s secret ``name``; False when there was none."""
        with self._write() as session:
            result = session.execute(delete(SecretRow).filter_by(repo=repo, name=name))
            return bool(getattr(result, "rowcount", 0))
