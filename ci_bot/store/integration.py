"""What the outside world needs stored: webhook deliveries (so none is lost and a
redelivery does nothing), integrations' notes on a pipeline (check run ids, the
Slack message), and how far each reporter has read the run events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ci_bot.store import statements as sql
from ci_bot.store.delivery_insert import DeliveryInsert
from ci_bot.store.records import Delivery
from ci_bot.store.tables import (
    BotIdentityRow,
    CursorRow,
    DeliveryRow,
    PipelineMetaRow,
    PipelineRow,
)
from ci_bot.store.transactions import NotFound, Transactions, record, utcnow


class IntegrationRecords(Transactions):
    _insert_delivery: DeliveryInsert | None = None  # made on first use, for this engine

    # --- deliveries ---------------------------------------------------------------------

    def record_delivery(self, delivery_id: str, source: str, event: str, payload: str) -> bool:
        """Store a delivery before it is answered; False when that id was seen already.

        Every webhook request makes this one insert: it runs at the driver's speed
        (``delivery_insert``), committed at once."""
        if self._insert_delivery is None:
            self._insert_delivery = DeliveryInsert(self.engine, self._write_lock)
        row = {
            "id": delivery_id,
            "source": source,
            "event": event,
            "payload": payload,
            "status": "received",
            "outcome": "",
            "received_at": utcnow(),
            "handled_at": None,
        }
        return self._insert_delivery(row)

    def finish_delivery(self, delivery_id: str, status: str, outcome: str = "") -> None:
        values: dict[str, Any] = {"p_id": delivery_id, "p_status": status, "p_outcome": outcome}
        with self._write() as session:  # one statement: every delivery of a burst ends here
            values["p_handled_at"] = utcnow()
            done = session.connection().execute(sql.FINISH_DELIVERY, values)
            if done.rowcount == 0:
                raise NotFound(f"no delivery {delivery_id}")

    def delivery(self, delivery_id: str) -> Delivery:
        with self._read() as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None:
                raise NotFound(f"no delivery {delivery_id}")
            return record(Delivery, row)

    def deliveries(self, delivery_ids: Sequence[str]) -> dict[str, Delivery]:
        """The stored ones of ``delivery_ids`` by id, read a few hundred to a query (a
        queue worker takes every delivery waiting in its lane at once)."""
        found: dict[str, Delivery] = {}
        with self._read() as session:
            for start in range(0, len(delivery_ids), 500):
                chunk = list(delivery_ids[start : start + 500])
                rows = session.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(chunk)))
                found.update((row.id, record(Delivery, row)) for row in rows)
        return found

    def unhandled_deliveries(self) -> list[Delivery]:
        """Deliveries stored but not yet handled: what a restarted bot must still do."""
        with self._read() as session:
            rows = session.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.status == "received")
                .order_by(DeliveryRow.received_at)
            )
            return [record(Delivery, row) for row in rows]

    def deliveries_with_status(self, status: str) -> list[Delivery]:
        """Deliveries in ``status`` (e.g. "deferred": waiting on a pipeline), oldest first."""
        with self._read() as session:
            rows = session.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.status == status)
                .order_by(DeliveryRow.received_at)
            )
            return [record(Delivery, row) for row in rows]

    # --- pipeline meta --------------------------------------------------------------------

    def set_meta(self, pipeline_id: int, key: str, value: Any) -> None:
        text = json.dumps(value)
        with self._write() as session:
            row = session.scalar(
                select(PipelineMetaRow).filter_by(pipeline_id=pipeline_id, key=key)
            )
            if row is None:
                session.add(PipelineMetaRow(pipeline_id=pipeline_id, key=key, value=text))
            else:
                row.value = text

    def set_metas(self, pipeline_id: int, values: Mapping[str, Any]) -> None:
        """``set_meta`` for each of ``values``, in one transaction (a launch notes nine)."""
        with self._write() as session:
            self._put_metas(session, pipeline_id, values)

    @staticmethod
    def _put_metas(session: Session, pipeline_id: int, values: Mapping[str, Any]) -> None:
        """Insert or update ``values`` as the pipeline's meta, in the caller's write."""
        if values:
            rows = session.scalars(
                select(PipelineMetaRow).where(
                    PipelineMetaRow.pipeline_id == pipeline_id,
                    PipelineMetaRow.key.in_(list(values)),
                )
            )
            existing = {row.key: row for row in rows}
            for key, value in values.items():
                text = json.dumps(value)
                if key in existing:
                    existing[key].value = text
                else:
                    session.add(PipelineMetaRow(pipeline_id=pipeline_id, key=key, value=text))

    def meta(self, pipeline_id: int) -> dict[str, Any]:
        with self._read() as session:
            rows = session.scalars(select(PipelineMetaRow).filter_by(pipeline_id=pipeline_id))
            return {row.key: json.loads(row.value) for row in rows}

    def pipelines_with_meta(self, key: str, value: Any) -> list[int]:
        """Pipelines whose ``key`` is ``value`` (e.g. every pipeline of one pull request)."""
        with self._read() as session:
            rows = session.scalars(
                select(PipelineMetaRow.pipeline_id).filter_by(key=key, value=json.dumps(value))
            )
            return sorted(rows)

    def unfinished_with_meta(self, key: str, value: Any) -> list[int]:
        """``pipelines_with_meta`` cut to the pipelines not finished yet, in one query."""
        with self._read() as session:
            rows = session.scalars(
                select(PipelineMetaRow.pipeline_id)
                .join(PipelineRow, PipelineRow.id == PipelineMetaRow.pipeline_id)
                .where(
                    PipelineMetaRow.key == key,
                    PipelineMetaRow.value == json.dumps(value),
                    PipelineRow.finished_at.is_(None),
                )
            )
            return sorted(rows)

    def meta_values(self, key: str) -> list[Any]:
        """Every distinct value stored under ``key``, newest pipeline's first."""
        with self._read() as session:
            rows = session.execute(
                select(PipelineMetaRow.value)
                .filter_by(key=key)
                .group_by(PipelineMetaRow.value)
                .order_by(func.max(PipelineMetaRow.pipeline_id).desc())
            )
            return [json.loads(value) for (value,) in rows]

    # --- identity --------------------------------------------------------------------------

    def instance_id(self) -> str:
        """This database's bot id, made once: it keeps bots sharing a Docker engine apart."""
        with self._read() as session:
            existing = session.get(BotIdentityRow, "bot")
        if existing is not None:
            return str(existing.id)
        try:
            with self._write() as session:
                session.add(BotIdentityRow(key="bot", id=uuid.uuid4().hex[:12]))
        except IntegrityError:
            pass  # another process made it first: use theirs
        with self._read() as session:
            made = session.get(BotIdentityRow, "bot")
            if made is None:
                raise RuntimeError("the bot identity could not be stored")
            return str(made.id)

    # --- reporter cursors -------------------------------------------------------------------

    def cursor(self, name: str) -> int:
        with self._read() as session:
            row = session.get(CursorRow, name)
            return row.position if row else 0

    def save_cursor(self, name: str, position: int) -> None:
        with self._write() as session:
            row = session.get(CursorRow, name)
            if row is None:
                session.add(CursorRow(name=name, position=position))
            else:
                row.position = max(row.position, position)
