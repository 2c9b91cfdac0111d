"""The one write path to the database.

Every method is one transaction.  A change to an Exec's state, the run event
that tells of it and the pipeline's cached state are written together, so a
reader never sees one without the others.  Rows leave as frozen dataclasses.

Each such change bumps the pipeline's ``version``.  The store keeps, by pipeline,
the Execs' states (and the kills asked for) of the last version it wrote or read:
a write applies its own change to them instead of reading the whole tree's states
again, and ``snapshot`` answers from them after reading one row — whichever
process changed the pipeline, a version it does not know makes it read again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ci_bot.store import statements as sql
from ci_bot.store.events import RunEventRecords
from ci_bot.store.exclusive import ExclusiveRecords
from ci_bot.store.integration import IntegrationRecords
from ci_bot.store.leases import LeaseRecords
from ci_bot.store.notifications import notify
from ci_bot.store.records import (
    Ended,
    Execution,
    HandledDelivery,
    NewPipeline,
    NodeRecord,
    Pipeline,
    ReuseResult,
    Snapshot,
)
from ci_bot.store.secret_records import SecretRecords
from ci_bot.store.shared import SharedRecords
from ci_bot.store.tables import ExecutionRow, NodeRow, PipelineRow
from ci_bot.store.transactions import NotFound as NotFound  # re-exported for callers
from ci_bot.store.transactions import record
from ci_bot.store.transactions import utcnow as utcnow
from ci_bot.store.ui_records import UiRecords
from ci_bot.tree.derive import root_and_settled
from ci_bot.tree.edit import with_command
from ci_bot.tree.nodes import Node, walk
from ci_bot.tree.states import State
from ci_bot.tree.treejson import dumps, from_json

KNOWN_LIMIT = 1024  # pipelines whose states a store keeps; the oldest learnt goes first


@dataclass(frozen=True)
class _Known:
    """A pipeline's Execs' states and kill requests as of ``version`` (never mutated)."""

    version: int
    exec_states: Mapping[str, State]
    kill_requests: tuple[Execution, ...]


@dataclass
class _Change:
    """A write in progress on one pipeline, its row locked: the states it changes, from
    the ones known (``kill_requests`` None: not known, read again after it), and the
    run events that tell of it as (path, kind, state, message)."""

    pipeline_id: int
    version: int
    state: str  # the root's cached state before the change
    finished_at: datetime | None
    cancel_requested: bool
    repo: str
    tree: Node
    exec_states: dict[str, State]
    kill_requests: dict[int, Execution] | None
    events: list[tuple[str, str, State, str]] = field(default_factory=list)

    def exec_now(self, path: str, state: State, told: State, message: str) -> None:
        """The Exec at ``path`` is now ``state``; the run event tells ``told`` (a failure
        sent back to pending for a retry is told as the failure it was)."""
        self.exec_states[path] = state
        self.events.append((path, "state", told, message))


def _new_nodes(tree: Node, skipped: Mapping[str, str]) -> list[dict[str, Any]]:
    """The node rows of a new pipeline: Execs pending, or skipped when they or a node
    above them are (by ``skipped``'s reason or ``skip = true``)."""
    rows: list[dict[str, Any]] = []
    for path, node, _ in walk(tree):
        reason = skipped.get(path) or ("skip = true in the config" if node.params.skip else "")
        state = State.PENDING.value if node.is_exec else None
        rows.append(
            {
                "path": path,
                "type": node.type.value,
                "state": state,
                "skip": bool(reason),
                "skip_reason": reason,
                "message": "",
                "failures": 0,
            }
        )
    skips = [row["path"] for row in rows if row["skip"]]
    for row in rows:
        if row["state"] == State.PENDING.value and _under_any(row["path"], skips):
            row["state"] = State.SKIPPED.value
    return rows


def _under_any(path: str, tops: list[str]) -> bool:
    """Whether ``path`` is one of ``tops`` or a node below one."""
    return any(path == top or path.startswith(top.rstrip("/") + "/") for top in tops)


def _bound(values: Mapping[str, Any]) -> dict[str, Any]:
    """Column values as the parameters of ``statements`` (``p_<column>``)."""
    return {f"p_{name}": value for name, value in values.items()}


def _with(row: Any, values: Mapping[str, Any]) -> SimpleNamespace:
    """``row``'s columns with ``values`` written over them: the row as the write left it."""
    return SimpleNamespace(**{**row._asdict(), **values})


class Store(
    IntegrationRecords,
    UiRecords,
    LeaseRecords,
    RunEventRecords,
    SecretRecords,
    SharedRecords,
    ExclusiveRecords,
):
    """Pipelines, nodes, executions and the control a person has over them.  The
    mixins add: deliveries, pipeline meta and reporter cursors (``IntegrationRecords``),
    the web UI's tokens and sessions (``UiRecords``), leases (``LeaseRecords``),
    reading run events (``RunEventRecords``) and sealed secrets (``SecretRecords``)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # Parsed trees by pipeline, with the JSON they were parsed from: a reset
        # that changes a command (in any process) changes the JSON, and a read of
        # the pipeline's row that sees new JSON drops the stale tree.
        self._trees: dict[int, tuple[str, Node]] = {}
        self._known: dict[int, _Known] = {}  # by pipeline: see the module's docstring

    # --- pipelines -------------------------------------------------------------------

    def create_pipeline(
        self,
        new: NewPipeline,
        tree: Node,
        skipped: Mapping[str, str],
        metas: Mapping[str, Any] | None = None,
        handled: HandledDelivery | None = None,
    ) -> int:
        """Insert a pipeline and its nodes; Execs below a skipped node start skipped.
        ``metas`` are written in the same transaction: nothing sees the pipeline without;
        so is ``handled``'s delivery, marked handled.

        Everything a new pipeline holds is worked out before the write begins (its
        rows, its states, its tree as the store parses it), so the write lock, which
        every other writer waits for, is held only for the inserts."""
        nodes = _new_nodes(tree, skipped)
        exec_states = {row["path"]: State(row["state"]) for row in nodes if row["state"]}
        parsed = from_json(new.tree_json)  # what ``tree`` would parse from the row
        values = {f.name: getattr(new, f.name) for f in fields(new)}
        values |= {"state": State.PENDING.value, "version": 0, "cancel_requested": False}
        meta_rows = [{"key": key, "value": json.dumps(v)} for key, v in (metas or {}).items()]
        with self._write() as session:
            db = session.connection()
            values["created_at"] = utcnow()
            pipeline_id = int(db.execute(sql.NEW_PIPELINE, values).scalar_one())
            db.execute(sql.NEW_NODES, [{**row, "pipeline_id": pipeline_id} for row in nodes])
            if meta_rows:
                db.execute(sql.NEW_METAS, [{**m, "pipeline_id": pipeline_id} for m in meta_rows])
            created = _Change(
                pipeline_id,
                version=0,
                state=State.PENDING.value,
                finished_at=None,
                cancel_requested=False,
                repo=new.repo,
                tree=parsed,
                exec_states=exec_states,
                kill_requests=None,
                events=[("/", "created", State.PENDING, f"from {new.entry}")],
            )
            self._refresh(session, created)
            if handled is not None:
                outcome = handled.outcome(pipeline_id)
                done = {"p_id": handled.delivery_id, "p_status": "handled", "p_outcome": outcome}
                db.execute(sql.FINISH_DELIVERY, {**done, "p_handled_at": utcnow()})
            notify(session, pipeline_id)
            text = new.tree_json
            self._after_commit(session, lambda: self._trees.update({pipeline_id: (text, parsed)}))
            return pipeline_id

    def pipeline(self, pipeline_id: int) -> Pipeline:
        with self._read() as session:
            return self._pipeline_record(session, pipeline_id)

    def pipelines(self, limit: int = 50) -> list[Pipeline]:
        with self._read() as session:
            rows = session.scalars(select(PipelineRow).order_by(PipelineRow.id.desc()).limit(limit))
            return [record(Pipeline, row, state=State(row.state)) for row in rows]

    def tree(self, pipeline_id: int) -> Node:
        """The pipeline's tree, parsed once and kept until its JSON changes."""
        if pipeline_id not in self._trees:
            text = self.pipeline(pipeline_id).tree_json
            self._trees[pipeline_id] = (text, from_json(text))
        return self._trees[pipeline_id][1]

    def archivable(self, finished_before: datetime) -> list[Pipeline]:
        """Settled pipelines that finished before then and still have their files."""
        with self._read() as session:
            rows = session.scalars(
                select(PipelineRow)
                .where(
                    PipelineRow.finished_at.is_not(None),
                    PipelineRow.finished_at < finished_before,
                    PipelineRow.archived_at.is_(None),
                    PipelineRow.lease_owner.is_(None),
                )
                .order_by(PipelineRow.id)
            )
            return [record(Pipeline, row, state=State(row.state)) for row in rows]

    def mark_archived(self, pipeline_id: int) -> None:
        with self._write() as session:
            self._pipeline_row(session, pipeline_id).archived_at = utcnow()
            self._event(session, pipeline_id, "/", "archived", None, "files removed by retention")

    def forget_tree(self, pipeline_id: int) -> None:
        """Drop what is cached of a pipeline no longer driven here (reloaded on need)."""
        self._trees.pop(pipeline_id, None)
        self._known.pop(pipeline_id, None)

    def snapshot(self, pipeline_id: int) -> Snapshot:
        """The pipeline, its Execs' states and its kill requests: one row read when this
        store already knows the pipeline's version, three otherwise."""
        with self._read() as session:
            pipeline = self._pipeline_record(session, pipeline_id)
            known = self._known.get(pipeline_id)
            if known is None or known.version != pipeline.version:
                # The row was read first: states read after it are never older than
                # its version, so caching them under it can only cause a read too many.
                known = _Known(
                    pipeline.version,
                    self._exec_states(session, pipeline_id),
                    tuple(self._kill_requests(session, pipeline_id)),
                )
                self._learn(pipeline_id, known)
            return Snapshot(pipeline, known.exec_states, known.kill_requests)

    def active_executions(self) -> list[tuple[int, str]]:
        """(pipeline, path) of every execution queued or running, in any pipeline."""
        with self._read() as session:
            rows = session.execute(
                select(ExecutionRow.pipeline_id, ExecutionRow.path).where(
                    ExecutionRow.state.in_([State.QUEUED.value, State.RUNNING.value])
                )
            )
            return [(pipeline_id, path) for pipeline_id, path in rows]

    def unfinished(self) -> list[int]:
        """Pipelines not yet settled: what an engine starting up must drive."""
        with self._read() as session:
            query = select(PipelineRow.id).where(PipelineRow.finished_at.is_(None))
            return list(session.scalars(query.order_by(PipelineRow.id)))

    # --- nodes and executions ---------------------------------------------------------

    def nodes(self, pipeline_id: int) -> list[NodeRecord]:
        with self._read() as session:
            rows = session.scalars(
                select(NodeRow).where(NodeRow.pipeline_id == pipeline_id).order_by(NodeRow.id)
            )
            return [
                record(NodeRecord, row, state=State(row.state) if row.state else None)
                for row in rows
            ]

    def exec_states(self, pipeline_id: int) -> dict[str, State]:
        return dict(self.snapshot(pipeline_id).exec_states)

    def executions(self, pipeline_id: int, path: str | None = None) -> list[Execution]:
        with self._read() as session:
            query = select(ExecutionRow).where(ExecutionRow.pipeline_id == pipeline_id)
            if path is not None:
                query = query.where(ExecutionRow.path == path)
            rows = session.scalars(query.order_by(ExecutionRow.id))
            return [record(Execution, row, state=State(row.state)) for row in rows]

    def execution(self, execution_id: int) -> Execution:
        with self._read() as session:
            row = session.get(ExecutionRow, execution_id)
            if row is None:
                raise NotFound(f"no execution {execution_id}")
            return record(Execution, row, state=State(row.state))

    def reusable(self, repo: str, key: str) -> list[ReuseResult]:
        """Executions of ``repo`` that ended done with outputs saved under ``key``, newest first."""
        values = {"p_repo": repo, "p_key": key, "p_state": State.DONE.value}
        with self.engine.connect() as db:
            rows = db.execute(sql.REUSABLE, values).all()
        return [ReuseResult(*row) for row in rows]

    def queue(self, pipeline_id: int, path: str, log_dir: str) -> Execution:
        """A new execution for a pending Exec; the Exec becomes queued."""
        with self._write() as session:
            change = self._change(session, pipeline_id)
            db = session.connection()
            node_key = {"p_pipeline_id": pipeline_id, "p_path": path}
            node = db.execute(sql.NODE_COMMAND, node_key).one_or_none()
            if node is None:
                raise NotFound(f"pipeline {pipeline_id} has no node {path}")
            attempt = 1 + (db.execute(sql.ATTEMPTS, node_key).scalar() or 0)
            # a reset's change of command belongs to the execution that runs it
            values: dict[str, Any] = {
                "pipeline_id": pipeline_id,
                "path": path,
                "attempt": attempt,
                "state": State.QUEUED.value,
                "message": "",
                "log_path": "",
                "kill_requested": False,
                "created_at": utcnow(),
                "command_by": node.command_by,
                "command_old": node.command_old,
                "command_new": node.command_new,
            }
            execution_id = db.execute(sql.NEW_EXECUTION, values).scalar_one()
            values["log_path"] = f"{log_dir}/{execution_id}.log"
            db.execute(
                sql.SET_LOG_PATH, {"p_execution_id": execution_id, "p_log_path": values["log_path"]}
            )
            db.execute(sql.QUEUE_NODE, {**node_key, "p_state": State.QUEUED.value})
            change.exec_now(path, State.QUEUED, State.QUEUED, f"attempt {attempt}")
            self._refresh(session, change)
            return Execution(
                **{**values, "state": State.QUEUED},
                id=execution_id,
                exit_code=None,
                container_id=None,
                reused_from=None,
                started_at=None,
                ended_at=None,
            )

    def mark_running(self, execution_id: int, container_id: str) -> None:
        with self._write() as session:
            row = self._execution_row(session, execution_id)
            change = self._change(session, row.pipeline_id)
            started = {
                "state": State.RUNNING.value,
                "container_id": container_id,
                "started_at": utcnow(),
            }
            db = session.connection()
            db.execute(sql.START_EXECUTION, {"p_execution_id": execution_id, **_bound(started)})
            if self._is_latest(session, row, change):
                node_key = {"p_pipeline_id": row.pipeline_id, "p_path": row.path}
                db.execute(sql.SET_NODE_STATE, {**node_key, "p_state": State.RUNNING.value})
                change.exec_now(row.path, State.RUNNING, State.RUNNING, "")
            self._note_execution(change, _with(row, started))
            self._refresh(session, change)

    def finish(
        self,
        execution_id: int,
        state: State,
        *,
        exit_code: int | None = None,
        message: str = "",
        retry_limit: int = 0,
        reused_from: int | None = None,
        reuse_key: str = "",
    ) -> bool:
        """An execution ended.  A failure within ``retry_limit`` sends its Exec back to
        pending for another attempt; returns whether it did.  ``reused_from``: it ran no
        container but took that execution's result; ``reuse_key``: it ended done with its
        outputs saved under that key, for later runs to reuse."""
        ended = self.finish_execution(
            execution_id,
            state,
            exit_code=exit_code,
            message=message,
            retry_limit=retry_limit,
            reused_from=reused_from,
            reuse_key=reuse_key,
        )
        return ended.retry

    def finish_execution(
        self,
        execution_id: int,
        state: State,
        *,
        exit_code: int | None = None,
        message: str = "",
        retry_limit: int = 0,
        reused_from: int | None = None,
        reuse_key: str = "",
    ) -> Ended:
        """``finish``, answering with the execution as stored too (for the metrics)."""
        with self._write() as session:
            row = self._execution_row(session, execution_id)
            change = self._change(session, row.pipeline_id)
            now = utcnow()
            ended: dict[str, Any] = {
                "state": state.value,
                "exit_code": exit_code,
                "message": message,
                "ended_at": now,
                "started_at": row.started_at,
                "reused_from": row.reused_from,
            }
            if reused_from is not None:
                ended["reused_from"] = reused_from
                ended["started_at"] = row.started_at or now
            db = session.connection()
            db.execute(sql.END_EXECUTION, {"p_execution_id": execution_id, **_bound(ended)})
            if reuse_key and state is State.DONE:
                db.execute(
                    sql.NEW_REUSE,
                    {
                        "repo": change.repo,
                        "key": reuse_key,
                        "execution_id": execution_id,
                        "created_at": now,
                    },
                )
            retry = False
            if self._is_latest(session, row, change):
                node_key = {"p_pipeline_id": row.pipeline_id, "p_path": row.path}
                failures = db.execute(sql.NODE_FAILURES, node_key).scalar() or 0
                if state.is_failure:
                    failures += 1
                    retry = failures <= retry_limit and not change.cancel_requested
                now_state = State.PENDING if retry else state
                db.execute(
                    sql.END_NODE,
                    {
                        **node_key,
                        "p_state": now_state.value,
                        "p_message": message,
                        "p_failures": failures,
                    },
                )
                change.exec_now(row.path, now_state, state, message)
                if retry:
                    note = f"retrying ({failures} of {retry_limit})"
                    change.events.append((row.path, "retry", State.PENDING, note))
            execution = _with(row, ended)
            self._note_execution(change, execution)
            self._refresh(session, change)
            return Ended(retry, record(Execution, execution, state=state))

    # --- control: reset, skip, unskip, cancel ---------------------------------------------

    def reset(
        self, pipeline_id: int, path: str, actor: str = "", run: str | None = None
    ) -> list[str]:
        """Every Exec at or below ``path`` becomes pending again (a new execution follows).
        With ``run``, the Exec at ``path`` runs that command from now on, and its next
        execution records the change; raises ValueError when ``path`` is not an Exec or
        ``run`` is empty (``tree.edit.command_refusal`` says why first)."""
        with self._write() as session:
            pipeline = self._pipeline_row(session, pipeline_id)  # locked first, as in every write
            message = (
                "" if run is None else self._change_command(session, pipeline_id, path, run, actor)
            )
            reset = []
            for node in self._subtree(session, pipeline_id, path):
                if node.state is None:
                    continue
                if node.state in (State.RUNNING.value, State.QUEUED.value):
                    self._request_kill(session, pipeline_id, node.path)
                node.state, node.message, node.failures = State.PENDING.value, "", 0
                reset.append(node.path)
            pipeline.cancel_requested = False
            self._apply_skips(session, pipeline_id)
            self._event(session, pipeline_id, path, "reset", State.PENDING, message, actor)
            self._refresh(session, self._reread(session, pipeline))
            notify(session, pipeline_id)
            return reset

    def set_skip(self, pipeline_id: int, path: str, skip: bool, actor: str = "") -> None:
        with self._write() as session:
            pipeline = self._pipeline_row(session, pipeline_id)  # locked first, as in every write
            node = self._node(session, pipeline_id, path)
            node.skip, node.skip_reason = (
                skip,
                (f"skipped by {actor or 'a person'}" if skip else ""),
            )
            self._apply_skips(session, pipeline_id)
            kind = "skip" if skip else "unskip"
            state = State.SKIPPED if skip else State.PENDING
            self._event(session, pipeline_id, path, kind, state, "", actor)
            self._refresh(session, self._reread(session, pipeline))
            notify(session, pipeline_id)

    def cancel(self, pipeline_id: int, actor: str = "") -> None:
        """Pending Execs are cancelled now; running ones are killed by their engine."""
        with self._write() as session:
            pipeline = self._pipeline_row(session, pipeline_id)
            pipeline.cancel_requested = True
            for node in self._subtree(session, pipeline_id, "/"):
                if node.state in (State.PENDING.value, State.QUEUED.value, State.RUNNING.value):
                    if node.state != State.PENDING.value:
                        self._request_kill(session, pipeline_id, node.path)
                    if node.state != State.RUNNING.value:
                        node.state = State.CANCELLED.value
            self._event(session, pipeline_id, "/", "cancel", State.CANCELLED, "", actor)
            self._refresh(session, self._reread(session, pipeline))
            notify(session, pipeline_id)

    def kill_requests(self, pipeline_id: int) -> list[Execution]:
        """Executions still queued or running that someone asked to kill."""
        return list(self.snapshot(pipeline_id).kill_requests)

    # --- helpers (inside a transaction) ---------------------------------------------------

    def _change_command(
        self, session: Session, pipeline_id: int, path: str, run: str, actor: str
    ) -> str:
        """Write ``run`` into the stored tree and remember the change on the node, for
        its next execution; the reset event's message.  Resetting twice before that
        execution is queued keeps the command it replaces from the first time."""
        pipeline = self._pipeline_row(session, pipeline_id)
        node = self._node(session, pipeline_id, path)
        tree = from_json(pipeline.tree_json)
        exec_node = tree.find(path)
        current = (exec_node.run if exec_node is not None else None) or ""
        pipeline.tree_json = dumps(with_command(tree, path, run))  # ValueError: refused
        self._trees.pop(pipeline_id, None)  # parsed again from the new JSON by _refresh
        old = node.command_old if node.command_new is not None else current
        if run == old:  # back to what its last execution ran: no change to tell of
            node.command_by = node.command_old = node.command_new = None
            return "" if run == current else f"command back to: {run}"
        node.command_by, node.command_old, node.command_new = actor, old, run
        return f"new command: {run} (was: {old})"

    def _change(self, session: Session, pipeline_id: int) -> _Change:
        """Begin a change of the pipeline: its row locked (other writers of it wait), the
        states this store knows of its version, or read now when it knows none."""
        db = session.connection()
        head = db.execute(sql.LOCK_PIPELINE, {"p_pipeline_id": pipeline_id}).one_or_none()
        if head is None:
            raise NotFound(f"no pipeline {pipeline_id}")
        # What is known stays until this write commits (a rolled-back write changed nothing).
        known = self._known.get(pipeline_id)
        cached_tree = self._trees.get(pipeline_id)
        if known is not None and known.version == head.version and cached_tree is not None:
            # The same version: the same tree too (a changed command bumps it).
            tree = cached_tree[1]
            states = dict(known.exec_states)
            kills = {execution.id: execution for execution in known.kill_requests}
        else:
            text = db.execute(sql.TREE_JSON, {"p_pipeline_id": pipeline_id}).scalar()
            tree = self._parsed_tree(pipeline_id, text or "")
            states = self._exec_states(session, pipeline_id)
            kills = {e.id: e for e in self._kill_requests(session, pipeline_id)}
        return _Change(
            pipeline_id,
            head.version,
            head.state,
            head.finished_at,
            head.cancel_requested,
            head.repo,
            tree,
            states,
            kills,
        )

    def _reread(self, session: Session, pipeline: PipelineRow) -> _Change:
        """A change of many nodes at once (reset, skip, cancel): the states as they are
        written now; the kill requests are read again after it commits."""
        session.flush()
        self._known.pop(pipeline.id, None)
        return _Change(
            pipeline.id,
            pipeline.version or 0,
            pipeline.state,
            pipeline.finished_at,
            pipeline.cancel_requested,
            pipeline.repo,
            self._parsed_tree(pipeline.id, pipeline.tree_json),
            self._exec_states(session, pipeline.id),
            None,
        )

    def _parsed_tree(self, pipeline_id: int, text: str) -> Node:
        cached = self._trees.get(pipeline_id)
        if cached is None or cached[0] != text:
            cached = (text, from_json(text))
            self._trees[pipeline_id] = cached
        return cached[1]

    def _learn(self, pipeline_id: int, known: _Known) -> None:
        """Keep ``known`` unless something newer is known already (a read racing a write)."""
        current = self._known.get(pipeline_id)
        if current is None or current.version < known.version:
            self._known[pipeline_id] = known
            if current is None and len(self._known) > KNOWN_LIMIT:  # a server's UI reads many
                self._known.pop(next(iter(self._known)), None)

    @staticmethod
    def _note_execution(change: _Change, row: Any) -> None:
        """Keep the known kill requests current with an execution just written."""
        kills = change.kill_requests
        if kills is None:
            return
        # ``row`` was read before the pipeline was locked: the kill requests read
        # under the lock know better whether it was asked to die.
        asked = row.kill_requested or row.id in kills
        if asked and row.state in (State.QUEUED.value, State.RUNNING.value):
            kills[row.id] = record(Execution, row, state=State(row.state), kill_requested=True)
        else:
            kills.pop(row.id, None)

    def _refresh(self, session: Session, change: _Change) -> None:
        """Derive the pipeline's state from the change's states, bump its version and
        write the change's events; settled pipelines get finished_at and an event.  Once
        committed, the states are what this store knows of the new version."""
        root, settled = root_and_settled(change.tree, change.exec_states)
        if change.cancel_requested and root in (State.PENDING, State.QUEUED):
            root = State.CANCELLED
        values: dict[str, Any] = {
            "p_pipeline_id": change.pipeline_id,
            "p_version": change.version + 1,
            "p_state": root.value,
            "p_finished_at": change.finished_at,
        }
        events = list(change.events)
        if settled and change.finished_at is None:
            values["p_finished_at"] = utcnow()
            events.append(("/", "finished", root, ""))
        elif not settled:
            values["p_finished_at"] = None
        changed = change.state != root.value or settled != (change.finished_at is not None)
        if changed and not settled:
            events.append(("/", "pipeline", root, ""))
        db = session.connection()
        db.execute(sql.UPDATE_PIPELINE, values)
        if events:
            now = utcnow()
            rows = [
                {
                    "pipeline_id": change.pipeline_id,
                    "path": path,
                    "kind": kind,
                    "state": state.value,
                    "message": message,
                    "actor": "",
                    "created_at": now,
                }
                for path, kind, state, message in events
            ]
            db.execute(sql.NEW_EVENTS, rows)
        if change.kill_requests is not None:
            pipeline_id = change.pipeline_id
            known = _Known(
                change.version + 1, change.exec_states, tuple(change.kill_requests.values())
            )
            self._after_commit(session, lambda: self._learn(pipeline_id, known))

    def _pipeline_record(self, session: Session, pipeline_id: int) -> Pipeline:
        row = session.connection().execute(sql.PIPELINE, {"p_pipeline_id": pipeline_id})
        found = row.one_or_none()
        if found is None:
            raise NotFound(f"no pipeline {pipeline_id}")
        self._drop_stale_tree(found)
        return record(Pipeline, found, state=State(found.state))

    def _drop_stale_tree(self, pipeline: PipelineRow | Any) -> None:
        """Forget the parsed tree when the row's JSON is not what it was parsed from
        (another process changed a command).  Comparing equal strings is cheap."""
        cached = self._trees.get(pipeline.id)
        if cached is not None and cached[0] != pipeline.tree_json:
            del self._trees[pipeline.id]

    def _apply_skips(self, session: Session, pipeline_id: int) -> None:
        """Pending Execs below a skip become skipped; skipped ones no longer below one, pending."""
        rows = list(self._subtree(session, pipeline_id, "/"))
        skipped = [row.path for row in rows if row.skip]
        for row in rows:
            if row.state is None:
                continue
            under = _under_any(row.path, skipped)
            if under and row.state == State.PENDING.value:
                row.state = State.SKIPPED.value
            elif not under and row.state == State.SKIPPED.value:
                row.state = State.PENDING.value

    def _kill_requests(self, session: Session, pipeline_id: int) -> list[Execution]:
        rows = session.scalars(
            select(ExecutionRow).where(
                ExecutionRow.pipeline_id == pipeline_id,
                ExecutionRow.kill_requested.is_(True),
                ExecutionRow.state.in_([State.QUEUED.value, State.RUNNING.value]),
            )
        )
        return [record(Execution, row, state=State(row.state)) for row in rows]

    def _exec_states(self, session: Session, pipeline_id: int) -> dict[str, State]:
        rows = session.execute(
            select(NodeRow.path, NodeRow.state).where(
                NodeRow.pipeline_id == pipeline_id, NodeRow.state.is_not(None)
            )
        )
        return {path: State(state) for path, state in rows if state}

    def _subtree(self, session: Session, pipeline_id: int, path: str) -> Iterator[NodeRow]:
        prefix = "/" if path == "/" else path + "/"
        rows = session.scalars(select(NodeRow).where(NodeRow.pipeline_id == pipeline_id))
        found = False
        for row in rows:
            if row.path == path or row.path.startswith(prefix):
                found = True
                yield row
        if not found:
            raise NotFound(f"pipeline {pipeline_id} has no node {path}")

    def _node(self, session: Session, pipeline_id: int, path: str) -> NodeRow:
        row = session.scalar(select(NodeRow).filter_by(pipeline_id=pipeline_id, path=path))
        if row is None:
            raise NotFound(f"pipeline {pipeline_id} has no node {path}")
        return row

    def _pipeline_row(self, session: Session, pipeline_id: int) -> PipelineRow:
        """The pipeline's row, locked for the write (on PostgreSQL; SQLite has one writer)."""
        row = session.get(PipelineRow, pipeline_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no pipeline {pipeline_id}")
        return row

    def _execution_row(self, session: Session, execution_id: int) -> Any:
        """The execution's columns (a plain row: hot writes change it with UPDATEs)."""
        db = session.connection()
        row = db.execute(sql.EXECUTION, {"p_execution_id": execution_id}).one_or_none()
        if row is None:
            raise NotFound(f"no execution {execution_id}")
        return row

    def _is_latest(self, session: Session, row: Any, change: _Change) -> bool:
        # After a reset the Exec is pending with no newer execution yet: the old
        # one must not overwrite that.
        if change.exec_states.get(row.path) not in (State.QUEUED, State.RUNNING):
            return False
        node_key = {"p_pipeline_id": row.pipeline_id, "p_path": row.path}
        latest = session.connection().execute(sql.LATEST, node_key).scalar()
        return bool(latest == row.id)

    def _set_node_state(self, session: Session, pipeline_id: int, path: str, state: State) -> None:
        session.execute(
            update(NodeRow)
            .where(NodeRow.pipeline_id == pipeline_id, NodeRow.path == path)
            .values(state=state.value)
        )

    def _request_kill(self, session: Session, pipeline_id: int, path: str) -> None:
        session.execute(
            update(ExecutionRow)
            .where(
                ExecutionRow.pipeline_id == pipeline_id,
                ExecutionRow.path == path,
                ExecutionRow.state.in_([State.QUEUED.value, State.RUNNING.value]),
            )
            .values(kill_requested=True)
        )
