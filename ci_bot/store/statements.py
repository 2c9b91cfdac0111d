"""The SQL of the engine's hot path, built once.

Every node of every pipeline is queued, marked running and finished: three writes
that run thousands of times a day (and a burst of deliveries creates a pipeline
each).  Built per call, a statement costs more Python (coercing its clauses,
computing its cache key, the ORM's bookkeeping) than the database spends on it;
built here once over the plain tables, with bound parameters (named ``p_<column>``:
a parameter may not take a column's own name in an UPDATE), each run is a
compiled-cache hit.  ``Store`` runs them on its write
session's connection, inside the same transaction as everything else.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, update

from ci_bot.store.tables import (
    DeliveryRow,
    ExecutionRow,
    NodeRow,
    PipelineMetaRow,
    PipelineRow,
    ReuseRow,
    RunEventRow,
)

PIPELINES = cast(Table, PipelineRow.__table__)
NODES = cast(Table, NodeRow.__table__)
EXECUTIONS = cast(Table, ExecutionRow.__table__)

# The pipeline's row, locked for the write (FOR UPDATE on PostgreSQL; SQLite has one writer).
LOCK_PIPELINE = (
    select(
        PIPELINES.c.version,
        PIPELINES.c.state,
        PIPELINES.c.finished_at,
        PIPELINES.c.cancel_requested,
        PIPELINES.c.repo,
    )
    .where(PIPELINES.c.id == bindparam("p_pipeline_id"))
    .with_for_update()
)
PIPELINE = select(PIPELINES).where(PIPELINES.c.id == bindparam("p_pipeline_id"))
TREE_JSON = select(PIPELINES.c.tree_json).where(PIPELINES.c.id == bindparam("p_pipeline_id"))
UPDATE_PIPELINE = (
    update(PIPELINES)
    .where(PIPELINES.c.id == bindparam("p_pipeline_id"))
    .values(
        version=bindparam("p_version"),
        state=bindparam("p_state"),
        finished_at=bindparam("p_finished_at"),
    )
)

_THIS_NODE = (NODES.c.pipeline_id == bindparam("p_pipeline_id")) & (
    NODES.c.path == bindparam("p_path")
)
NODE_COMMAND = select(NODES.c.command_by, NODES.c.command_old, NODES.c.command_new).where(
    _THIS_NODE
)
NODE_FAILURES = select(NODES.c.failures).where(_THIS_NODE)
QUEUE_NODE = (
    update(NODES)
    .where(_THIS_NODE)
    .values(
        state=bindparam("p_state"),
        message="",
        command_by=None,
        command_old=None,
        command_new=None,
    )
)
SET_NODE_STATE = update(NODES).where(_THIS_NODE).values(state=bindparam("p_state"))
END_NODE = (
    update(NODES)
    .where(_THIS_NODE)
    .values(
        state=bindparam("p_state"), message=bindparam("p_message"), failures=bindparam("p_failures")
    )
)

_THIS_EXECUTION = EXECUTIONS.c.id == bindparam("p_execution_id")
_OF_NODE = (EXECUTIONS.c.pipeline_id == bindparam("p_pipeline_id")) & (
    EXECUTIONS.c.path == bindparam("p_path")
)
EXECUTION = select(EXECUTIONS).where(_THIS_EXECUTION)
ATTEMPTS = select(func.count(EXECUTIONS.c.id)).where(_OF_NODE)
LATEST = select(func.max(EXECUTIONS.c.id)).where(_OF_NODE)
NEW_EXECUTION = insert(EXECUTIONS).returning(EXECUTIONS.c.id)
SET_LOG_PATH = update(EXECUTIONS).where(_THIS_EXECUTION).values(log_path=bindparam("p_log_path"))
START_EXECUTION = (
    update(EXECUTIONS)
    .where(_THIS_EXECUTION)
    .values(
        state=bindparam("p_state"),
        container_id=bindparam("p_container_id"),
        started_at=bindparam("p_started_at"),
    )
)
END_EXECUTION = (
    update(EXECUTIONS)
    .where(_THIS_EXECUTION)
    .values(
        state=bindparam("p_state"),
        exit_code=bindparam("p_exit_code"),
        message=bindparam("p_message"),
        ended_at=bindparam("p_ended_at"),
        started_at=bindparam("p_started_at"),
        reused_from=bindparam("p_reused_from"),
    )
)

_DELIVERIES = cast(Table, DeliveryRow.__table__)
FINISH_DELIVERY = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("p_id"))
    .values(
        status=bindparam("p_status"),
        outcome=bindparam("p_outcome"),
        handled_at=bindparam("p_handled_at"),
    )
)

NEW_PIPELINE = insert(PIPELINES).returning(PIPELINES.c.id)
NEW_NODES = insert(NODES)
NEW_METAS = insert(cast(Table, PipelineMetaRow.__table__))
NEW_EVENTS = insert(cast(Table, RunEventRow.__table__))
REUSES = cast(Table, ReuseRow.__table__)
NEW_REUSE = insert(REUSES)
# Done executions of a repository with outputs saved under a key, newest first: asked
# once for every node with ``reuse``, before it runs.
REUSABLE = (
    select(EXECUTIONS.c.id, EXECUTIONS.c.pipeline_id, EXECUTIONS.c.path, REUSES.c.created_at)
    .join(REUSES, REUSES.c.execution_id == EXECUTIONS.c.id)
    .where(
        REUSES.c.repo == bindparam("p_repo"),
        REUSES.c.key == bindparam("p_key"),
        EXECUTIONS.c.state == bindparam("p_state"),
    )
    .order_by(REUSES.c.id.desc())
)
