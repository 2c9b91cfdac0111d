"""Read-only queries for browsing pipelines: a filtered page, newest first, with the
number of pipelines in each state, each pipeline's Execs counted by state, the
Execs that failed, and when its first execution started and its last one ended.

A page costs five indexed queries whatever the number of pipelines stored, so
the list stays fast with thousands of them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ci_bot.store.records import Pipeline
from ci_bot.store.tables import ExecutionRow, NodeRow, PipelineRow
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
    failed: dict[int, list[str]] = field(default_factory=dict)  # paths of failed Execs
    # when the first execution started and the last one ended (None: none did yet)
    run_spans: dict[int, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    # When each execution ran (end None: still running), for the time spent running.
    run_intervals: dict[int, list[tuple[datetime, datetime | None]]] = field(default_factory=dict)


FAILED = (State.ERROR.value, State.WORKER_ERROR.value)


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
        ids = [p.id for p in pipelines]
        by_state = session.execute(
            select(PipelineRow.state, func.count(PipelineRow.id))
            .where(*others)
            .group_by(PipelineRow.state)
        )
        return PipelinePage(
            pipelines=pipelines,
            total=total,
            state_totals={state: count for state, count in by_state},
            exec_counts=_exec_counts(session, ids),
            failed=_failed_paths(session, ids),
            run_spans=_run_spans(session, ids),
            run_intervals=_run_intervals(session, ids),
        )


def repositories(store: Transactions) -> list[str]:
    """Every repository with a pipeline, sorted."""
    with Session(store.engine) as session:
        return list(session.scalars(select(PipelineRow.repo).distinct().order_by(PipelineRow.repo)))


def newest_finished(store: Transactions, repo: str, branch: str = "") -> Pipeline | None:
    """The newest finished pipeline of ``repo`` (on ``branch``, when given), pull requests
    left out: what the branch's status badge shows."""
    conditions = [PipelineRow.repo == repo, PipelineRow.finished_at.is_not(None)]
    conditions.append(PipelineRow.event != "pr")
    if branch:
        conditions.append(PipelineRow.branch == branch)
    with Session(store.engine) as session:
        row = session.scalars(
            select(PipelineRow).where(*conditions).order_by(PipelineRow.id.desc()).limit(1)
        ).first()
        return None if row is None else record(Pipeline, row, state=State(row.state))


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


def _failed_paths(session: Session, pipeline_ids: list[int]) -> dict[int, list[str]]:
    failed: dict[int, list[str]] = {pipeline_id: [] for pipeline_id in pipeline_ids}
    if not pipeline_ids:
        return failed
    rows = session.execute(
        select(NodeRow.pipeline_id, NodeRow.path)
        .where(NodeRow.pipeline_id.in_(pipeline_ids), NodeRow.state.in_(FAILED))
        .order_by(NodeRow.pipeline_id, NodeRow.id)
    )
    for pipeline_id, path in rows:
        failed[pipeline_id].append(path)
    return failed


def _run_intervals(
    session: Session, pipeline_ids: list[int]
) -> dict[int, list[tuple[datetime, datetime | None]]]:
    """When each execution of these pipelines ran (one row per execution that started)."""
    intervals: dict[int, list[tuple[datetime, datetime | None]]] = {}
    if not pipeline_ids:
        return intervals
    rows = session.execute(
        select(ExecutionRow.pipeline_id, ExecutionRow.started_at, ExecutionRow.ended_at).where(
            ExecutionRow.pipeline_id.in_(pipeline_ids), ExecutionRow.started_at.is_not(None)
        )
    )
    for pipeline_id, started, ended in rows:
        if started is not None:
            intervals.setdefault(pipeline_id, []).append((started, ended))
    return intervals


def _run_spans(
    session: Session, pipeline_ids: list[int]
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """When each pipeline's first execution started and its last one ended."""
    spans: dict[int, tuple[datetime | None, datetime | None]] = {
        pipeline_id: (None, None) for pipeline_id in pipeline_ids
    }
    if not pipeline_ids:
        return spans
    rows = session.execute(
        select(
            ExecutionRow.pipeline_id,
            func.min(ExecutionRow.started_at),
            func.max(ExecutionRow.ended_at),
        )
        .where(ExecutionRow.pipeline_id.in_(pipeline_ids))
        .group_by(ExecutionRow.pipeline_id)
    )
    for pipeline_id, first_start, last_end in rows:
        spans[pipeline_id] = (first_start, last_end)
    return spans
