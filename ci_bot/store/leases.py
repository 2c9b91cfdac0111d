"""Leases: which engine drives a pipeline.  An engine renews its lease while it
works; a lease that expired, or whose owner died on this host, can be taken."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update

from ci_bot.store.tables import PipelineRow
from ci_bot.store.transactions import Transactions, utcnow


class LeaseRecords(Transactions):
    def claim(self, pipeline_id: int, owner: str, ttl: float, *, steal_from: str = "") -> bool:
        """Take or renew the lease; ``steal_from`` names a dead owner whose lease we may take."""
        now = utcnow()
        with self._write() as session:
            result = session.execute(
                update(PipelineRow)
                .where(
                    PipelineRow.id == pipeline_id,
                    or_(
                        PipelineRow.lease_owner.is_(None),
                        PipelineRow.lease_owner.in_([owner, steal_from]),
                        PipelineRow.lease_until < now,
                    ),
                )
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=ttl))
            )
            return bool(getattr(result, "rowcount", 0))

    def release(self, pipeline_id: int, owner: str) -> None:
        with self._write() as session:
            session.execute(
                update(PipelineRow)
                .where(PipelineRow.id == pipeline_id, PipelineRow.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
