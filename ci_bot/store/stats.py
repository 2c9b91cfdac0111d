"""Read-only counts for ``/metrics``: each is one grouped, indexed query, however many
pipelines, executions and deliveries are stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ci_bot.store.tables import DeliveryRow, ExecutionRow, PipelineRow
from ci_bot.store.transactions import Transactions
from ci_bot.tree.states import State


def pipelines_by_state(store: Transactions) -> dict[str, int]:
    """Every pipeline stored, counted by its state; states none is in count 0."""
    counts = dict.fromkeys((state.value for state in State), 0)
    with Session(store.engine) as session:
        query = select(PipelineRow.state, func.count()).group_by(PipelineRow.state)
        for state, count in session.execute(query):
            counts[state] = count
    return counts


def executions_by_state(store: Transactions, states: tuple[State, ...]) -> dict[str, int]:
    """Executions in each of ``states`` (queued and running: the work in flight)."""
    counts = dict.fromkeys((state.value for state in states), 0)
    with Session(store.engine) as session:
        query = (
            select(ExecutionRow.state, func.count())
            .where(ExecutionRow.state.in_(list(counts)))
            .group_by(ExecutionRow.state)
        )
        for state, count in session.execute(query):
            counts[state] = count
    return counts


def deliveries_by_outcome(store: Transactions) -> dict[tuple[str, str], int]:
    """Deliveries (GitHub, Slack, cron, by hand) by (source, status): received (not
    handled yet), handled, deferred (waiting on a pipeline) or failed."""
    with Session(store.engine) as session:
        query = select(DeliveryRow.source, DeliveryRow.status, func.count()).group_by(
            DeliveryRow.source, DeliveryRow.status
        )
        return {(source, status): count for source, status, count in session.execute(query)}


def busy_workers(store: Transactions, beating_since: datetime) -> int:
    """Scaled out: workers running an execution whose heartbeat is newer than ``beating_since``."""
    with Session(store.engine) as session:
        query = select(func.count(func.distinct(ExecutionRow.worker))).where(
            ExecutionRow.state == State.RUNNING.value,
            ExecutionRow.worker.is_not(None),
            ExecutionRow.heartbeat_at >= beating_since,
        )
        return session.scalar(query) or 0
