"""Read-only queries for browsing pipelines: a filtered page, newest first, with the
number of pipelines in each state and each pipeline's Execs counted by state.

A page costs three indexed queries whatever the number of pipelines stored, so
the list stays fast with thousands of them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ci_bot.store.records import Pipeline
from ci_bot.store.tables import NodeRow, PipelineRow
from ci_bot.store.transactions import Transactions, record
from ci_bot.tree.states import State


@dataclass(frozen=True)
class PipelineFilter:
    """Which pipelines to list; empty fields do not filter.  ``repos`` (when not None)
    limits the list to those repositories: what a GitHub user may read."""

    repo: str = ""
    branch: str = ""
    pr: str = ""
    state: str = ""
    event: str = ""
    repos: Collection[str] | None = None


@dataclass(frozen=True)
class PipelinePage:
    pipelines: list[Pipeline]
    total: int  # pipelines matching the filter
    state_totals: dict[str, int]  # pipelines matching the filter but its state, by state
    exec_counts: dict[int, dict[str, int]] = field(default_factory=dict)  # Execs by state


def list_pipelines(
    store: Transactions, wanted: PipelineFilter, page: int, per_page: int
) -> PipelinePage:
    """One page (numbered from 1) of the pipelines ``wanted``, newest first."""
    others = _conditions(wanted)
    matching = others + ([PipelineRow.state == wanted.state] if wanted.state else [])
    with Session(store.engine) as session:
        total = session.scalar(select(func.count(PipelineRow.id)).where(*matching)) or 0
        rows = session.scalars(
            select(PipelineRow)
            .where(*matching)
            .order_by(PipelineRow.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        pipelines = [record(Pipeline, row, state=State(row.state)) for row in rows]
        by_state = session.execute(
            select(PipelineRow.state, func.count(PipelineRow.id))
            .where(*others)
            .group_by(PipelineRow.state)
        )
        return PipelinePage(
            pipelines=pipelines,
            total=total,
            state_totals={state: count for state, count in by_state},
            exec_counts=_exec_counts(session, [p.id for p in pipelines]),
        )


def repositories(store: Transactions) -> list[str]:
    """Every repository with a pipeline, sorted."""
    with Session(store.engine) as session:
        return list(session.scalars(select(PipelineRow.repo).distinct().order_by(PipelineRow.repo)))


def _conditions(wanted: PipelineFilter) -> list[ColumnElement[bool]]:
    """The filter's conditions but its state (the state chips count across states)."""
    conditions: list[ColumnElement[bool]] = []
    if wanted.repos is not None:
        conditions.append(PipelineRow.repo.in_(list(wanted.repos)))
    if wanted.repo:
        conditions.append(PipelineRow.repo == wanted.repo)
    if wanted.branch:
        conditions.append(PipelineRow.branch == wanted.branch)
    if wanted.pr:
        conditions.append(PipelineRow.pr == wanted.pr)
    if wanted.event:
        conditions.append(PipelineRow.event == wanted.event)
    return conditions


def _exec_counts(session: Session, pipeline_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {pipeline_id: {} for pipeline_id in pipeline_ids}
    if not pipeline_ids:
        return counts
    rows = session.execute(
        select(NodeRow.pipeline_id, NodeRow.state, func.count())
        .where(NodeRow.pipeline_id.in_(pipeline_ids), NodeRow.state.is_not(None))
        .group_by(NodeRow.pipeline_id, NodeRow.state)
    )
    for pipeline_id, state, count in rows:
        if state:
            counts[pipeline_id][state] = count
    return counts
