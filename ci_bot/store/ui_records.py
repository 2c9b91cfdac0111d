"""What the web UI keeps: its sign-in tokens (hashed) and signed-in sessions, each with
its role: a ``viewer`` reads, an ``operator`` also resets, skips, cancels and reruns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ci_bot.store.tables import UiSessionRow, UiTokenRow
from ci_bot.store.transactions import Transactions, record, utcnow

VIEWER = "viewer"
OPERATOR = "operator"
ROLES = (VIEWER, OPERATOR)


@dataclass(frozen=True)
class UiToken:
    name: str
    created_at: datetime
    role: str = OPERATOR


@dataclass(frozen=True)
class UiSession:
    id_hash: str
    user: str
    kind: str
    role: str
    csrf_token: str = field(repr=False)
    github_token: str = field(repr=False)
    created_at: datetime
    expires_at: datetime


class DuplicateToken(ValueError):
    """A token with that name (or, against all odds, that hash) exists already."""


class UiRecords(Transactions):
    # --- tokens ---------------------------------------------------------------------------

    def add_ui_token(self, name: str, token_hash: str, role: str = VIEWER) -> None:
        if role not in ROLES:
            raise ValueError(f"a UI token's role is one of {', '.join(ROLES)}, not {role!r}")
        try:
            with self._write() as session:
                row = UiTokenRow(name=name, token_hash=token_hash, created_at=utcnow(), role=role)
                session.add(row)
        except IntegrityError:
            raise DuplicateToken(f"a UI token named {name!r} exists already") from None

    def ui_tokens(self) -> list[UiToken]:
        with self._read() as session:
            rows = session.scalars(select(UiTokenRow).order_by(UiTokenRow.name))
            return [record(UiToken, row) for row in rows]

    def ui_token_by_hash(self, token_hash: str) -> UiToken | None:
        """The token with this hash, or None."""
        with self._read() as session:
            row = session.scalar(select(UiTokenRow).filter_by(token_hash=token_hash))
            return None if row is None else record(UiToken, row)

    def revoke_ui_token(self, name: str) -> bool:
        """Forget a token; False when there was none of that name."""
        with self._write() as session:
            result = session.execute(delete(UiTokenRow).filter_by(name=name))
            return bool(getattr(result, "rowcount", 0))

    # --- sessions ---------------------------------------------------------------------------

    def create_ui_session(
        self,
        id_hash: str,
        user: str,
        kind: str,
        csrf_token: str,
        ttl_seconds: int,
        github_token: str = "",
        role: str = OPERATOR,
    ) -> None:
        now = utcnow()
        with self._write() as session:
            # Expired sessions go here, when someone signs in, not on every request.
            session.execute(delete(UiSessionRow).where(UiSessionRow.expires_at < now))
            session.add(
                UiSessionRow(
                    id_hash=id_hash,
                    user=user,
                    kind=kind,
                    role=role,
                    csrf_token=csrf_token,
                    github_token=github_token,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                )
            )

    def ui_session(self, id_hash: str) -> UiSession | None:
        """The live session with this hash; None when unknown or expired."""
        with self._read() as session:
            row = session.get(UiSessionRow, id_hash)
            if row is None or row.expires_at < utcnow():
                return None
            return record(UiSession, row)

    def end_ui_session(self, id_hash: str) -> None:
        with self._write() as session:
            session.execute(delete(UiSessionRow).filter_by(id_hash=id_hash))
