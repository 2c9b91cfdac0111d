"""Run events: append-only and ordered, what reporters and the UI follow.  They are
written in the same transaction as the change they tell of (see ``Store``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ci_bot.store.records import RunEvent
from ci_bot.store.tables import RunEventRow
from ci_bot.store.transactions import Transactions, record, utcnow
from ci_bot.tree.states import State


class RunEventRecords(Transactions):
    def events(self, pipeline_id: int, after: int = 0) -> list[RunEvent]:
        with self._read() as session:
            rows = session.scalars(
                select(RunEventRow)
                .where(RunEventRow.pipeline_id == pipeline_id, RunEventRow.id > after)
                .order_by(RunEventRow.id)
            )
            return [record(RunEvent, row) for row in rows]

    def add_event(
        self, pipeline_id: int, path: str, kind: str, message: str, actor: str = ""
    ) -> None:
        with self._write() as session:
            self._event(session, pipeline_id, path, kind, None, message, actor)

    def events_after(self, position: int, limit: int = 500) -> list[RunEvent]:
        """Run events of every pipeline after ``position`` (an event id), oldest first."""
        with self._read() as session:
            rows = session.scalars(
                select(RunEventRow)
                .where(RunEventRow.id > position)
                .order_by(RunEventRow.id)
                .limit(limit)
            )
            return [record(RunEvent, row) for row in rows]

    def _event(
        self,
        session: Session,
        pipeline_id: int,
        path: str,
        kind: str,
        state: State | None,
        message: str,
        actor: str = "",
    ) -> None:
        session.add(
            RunEventRow(
                pipeline_id=pipeline_id,
                path=path,
                kind=kind,
                state=state.value if state else "",
                message=message,
                actor=actor,
                created_at=utcnow(),
            )
        )
