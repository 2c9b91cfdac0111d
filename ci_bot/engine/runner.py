"""The runner: drives executors from the store's state.

Each tick, for every pipeline this engine holds the lease of, it reads one
snapshot (one row when nothing changed since the engine last looked: the store
keeps the Execs' states of the version it knows), honours kill requests (cancel,
reset of a running node), asks the scheduler what may start, queues those
executions in the store and runs each in a thread.  It ticks when one of its
runs ends, when someone changes a pipeline (on PostgreSQL another process's
change wakes it at once through ``LISTEN``) and otherwise every ``poll_seconds``.  Everything a
person does (reset, skip, cancel) is written to the store by whoever asked, so
any process running the engine honours it.  A pipeline whose engine died is
taken over: its still-running containers are re-attached, the rest retried.
A settling pipeline's ended containers are removed while its lease is still
held; the ones a stopped bot left of pipelines that settled are removed when
``start`` begins to serve.
Around each run, ``artifacts.py`` may restore an earlier result instead
(``reuse``) and, once a run ended done, saves its outputs and signs (``sign``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ci_bot import metrics
from ci_bot.engine.artifacts import Artifacts, Job
from ci_bot.engine.context import build_spec, log_dir
from ci_bot.engine.owners import owner_is_dead as _owner_is_dead
from ci_bot.engine.scheduler import Limits, pick
from ci_bot.executors.base import DONE, WORKER_ERROR, ExecResult, ExecSpec, Executor
from ci_bot.secrets.source import SecretSource, as_source
from ci_bot.settings import Settings
from ci_bot.store.notifications import Listener
from ci_bot.store.records import Execution, Pipeline, Snapshot
from ci_bot.store.store import NotFound, Store
from ci_bot.tree.derive import TreeIndex, index
from ci_bot.tree.nodes import Resolved
from ci_bot.tree.states import State

logger = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
RENEW_SECONDS = 5.0


@dataclass(frozen=True)
class _Running:
    pipeline_id: int
    path: str
    group: str | None


class Engine:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        settings: Settings,
        *,
        secrets: SecretSource | Mapping[str, str] | None = None,
        poll_seconds: float = 0.2,
    ) -> None:
        self.store = store
        self.executor = executor
        self.settings = settings
        self.secrets: SecretSource = as_source(secrets)
        self.artifacts = Artifacts(settings, store, executor)
        self.poll_seconds = poll_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.bot_id = store.instance_id()
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._renewed: dict[int, float] = {}
        self._killed: set[int] = set()
        self._thread: threading.Thread | None = None
        self._listener: Listener | None = None

    # --- driving ------------------------------------------------------------------------

    def run_until_settled(self, pipeline_id: int) -> Pipeline:
        """Drive one pipeline in this process until nothing runs or may start."""
        while True:
            snapshot = self._tick_one(pipeline_id)
            pipeline = self.store.pipeline(pipeline_id) if snapshot is None else snapshot.pipeline
            if pipeline.finished_at is not None and not self._busy(pipeline_id):
                if pipeline_id in self._renewed:  # tick may have released it already
                    self._release(pipeline_id)
                return self.store.pipeline(pipeline_id)
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def drive_if_free(self, pipeline_id: int) -> Pipeline | None:
        """Drive the pipeline here until it settles when no live engine holds it (``ci-bot
        cancel`` then kills its containers itself); None when one does: that engine
        honours what the store asks within a tick."""
        if not self._claim(pipeline_id):
            return None
        return self.run_until_settled(pipeline_id)

    def start(self) -> None:
        """Drive every unfinished pipeline in a background thread (``ci-bot serve``); on
        PostgreSQL, another process's change to a pipeline wakes it at once."""
        self._listener = Listener(self.store.engine, lambda _pipeline_id: self._wake.set())
        self._listener.start()
        self._thread = threading.Thread(target=self._serve, name="ci-bot-engine", daemon=True)
        self._thread.start()

    def listening(self, timeout: float | None = None) -> bool:
        """Whether other processes' changes wake this engine at once (``start`` on
        PostgreSQL), waiting up to ``timeout`` for its ``LISTEN`` to be in place."""
        return self._listener is not None and self._listener.listening.wait(timeout)

    @property
    def is_running(self) -> bool:
        """Whether ``start`` made it drive pipelines in the background (and it still does)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop driving; idle pipelines' leases are handed back at once.  Containers
        still running are left to run: the next engine re-attaches to them."""
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        for pipeline_id in list(self._renewed):
            if not self._busy(pipeline_id):
                self._release(pipeline_id)

    def wake(self) -> None:
        self._wake.set()

    def _serve(self) -> None:
        self._sweep_settled()
        while not self._stop.is_set():
            try:
                # Finished pipelines leave unfinished(); the ones still leased are
                # ticked once more so their lease and resources are released.
                self.tick(sorted(set(self.store.unfinished()) | set(self._renewed)))
            except Exception:  # the engine must outlive any one bad tick
                logger.exception("engine tick failed; continuing")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def tick(self, pipeline_ids: Iterable[int]) -> None:
        for pipeline_id in pipeline_ids:
            self._tick_one(pipeline_id)

    def _tick_one(self, pipeline_id: int) -> Snapshot | None:
        """One look at the pipeline (None: another engine holds it); the snapshot it
        acted on.  Whatever it wrote wakes the engine again, to see the outcome."""
        if not self._claim(pipeline_id):
            return None
        snapshot = self.store.snapshot(pipeline_id)
        self._honour_kills(snapshot)
        if snapshot.pipeline.finished_at is not None:
            if not self._busy(pipeline_id):
                self._release(pipeline_id)
            return snapshot
        if not snapshot.pipeline.cancel_requested:
            self._launch(snapshot)
        return snapshot

    # --- leases and recovery ---------------------------------------------------------------

    def _claim(self, pipeline_id: int) -> bool:
        now = time.monotonic()
        if now - self._renewed.get(pipeline_id, -RENEW_SECONDS * 2) < RENEW_SECONDS:
            return True
        owner = self.store.pipeline(pipeline_id).lease_owner or ""
        steal = owner if owner != self.owner and _owner_is_dead(owner) else ""
        if not self.store.claim(pipeline_id, self.owner, LEASE_SECONDS, steal_from=steal):
            return False
        first = pipeline_id not in self._renewed
        self._renewed[pipeline_id] = now
        if first:
            self._recover(pipeline_id)
        return True

    def _release(self, pipeline_id: int) -> None:
        # Before the lease goes: its ended containers are swept while no other engine
        # may start one of the pipeline's nodes (a reset, then ``resume``).  When every
        # node was reused no container ran, and nothing is left on the engine.
        if not all(e.reused_from is not None for e in self.store.executions(pipeline_id)):
            self._release_resources(pipeline_id)
        self.store.release(pipeline_id, self.owner)
        self._renewed.pop(pipeline_id, None)
        self.store.forget_tree(pipeline_id)

    def _release_resources(self, pipeline_id: int) -> None:
        try:
            self.executor.release_pipeline(str(pipeline_id), bot_id=self.bot_id)
        except Exception:
            logger.exception("releasing pipeline %s's resources failed", pipeline_id)

    def _sweep_settled(self) -> None:
        """Release settled pipelines that still have containers: a bot stopped after
        storing a node's result and before removing its container left them.  An
        unfinished pipeline's are removed when it settles."""
        try:
            containers = self.executor.running()
        except Exception:
            logger.exception("cannot list the containers left by an earlier engine")
            return
        pipeline_ids = {
            int(c.pipeline_id)
            for c in containers
            if c.bot_id == self.bot_id and c.pipeline_id.isdigit()
        }
        for pipeline_id in sorted(pipeline_ids):
            try:
                if self.store.pipeline(pipeline_id).finished_at is None:
                    continue
                if self._claim(pipeline_id):  # not while another live engine holds it
                    self._release(pipeline_id)
            except NotFound:  # deleted: nothing will run it again
                self._release_resources(pipeline_id)
            except Exception:
                logger.exception("sweeping pipeline %s's containers failed", pipeline_id)

    def _recover(self, pipeline_id: int) -> None:
        """Executions left queued or running by a dead engine: re-attach or retry (or,
        in a cancelled pipeline, end them cancelled; a container left is re-attached
        so that killing it collects its log and removes it)."""
        stale = [
            e
            for e in self.store.executions(pipeline_id)
            if e.state in (State.QUEUED, State.RUNNING) and e.id not in self._running
        ]
        if not stale:
            return
        containers = {c.execution_id: c for c in self.executor.running() if c.bot_id == self.bot_id}
        pipeline = self.store.pipeline(pipeline_id)
        tree = self._index(pipeline_id)
        for execution in stale:
            resolved = tree.resolved[execution.path]
            container = containers.get(str(execution.id))
            spec = self._spec(pipeline, execution)
            if container is not None and not isinstance(spec, str):
                logger.info(
                    "re-attaching %s to container %s", execution.path, container.container_id
                )
                self._start(pipeline, execution, spec, resolved, attach=container.container_id)
                continue
            if pipeline.cancel_requested:
                message = "cancelled; no engine was driving it and its container is gone"
                self._finish(execution.id, State.CANCELLED, message=message)
                continue
            self._finish(
                execution.id,
                State.WORKER_ERROR,
                message="the engine stopped while this ran and its container is gone",
                retry_limit=max(resolved.retry, 1),
            )

    # --- launching --------------------------------------------------------------------------

    def _launch(self, snapshot: Snapshot) -> None:
        pipeline = snapshot.pipeline
        tree = self.store.tree(pipeline.id)
        with self._lock:
            slots = self.settings.max_parallel - len(self._running)
        if slots <= 0:
            return
        execs = index(tree)
        limits = Limits(slots, self._busy_groups() if _has_groups(execs) else frozenset())
        # A reset node whose old container is still being killed waits for it, so
        # two runs of one node never overlap on the same $CI_DATA.
        dying = {execution.path for execution in snapshot.kill_requests}
        for path in pick(tree, snapshot.exec_states, limits):
            if path in dying:
                continue
            group = execs.resolved[path].concurrency
            execution = (
                self._queue_in_group(pipeline, path, group)
                if group
                else self.store.queue(pipeline.id, path, str(log_dir(self.settings, pipeline.id)))
            )
            self._wake.set()  # it wrote: the next tick looks at what follows
            if execution is None:
                continue  # another engine took the group first
            spec = self._spec(pipeline, execution)
            if isinstance(spec, str):  # the node cannot run as configured: say why
                self._finish(execution.id, State.ERROR, message=spec)
                continue
            self._start(pipeline, execution, spec, execs.resolved[path])

    def _queue_in_group(self, pipeline: Pipeline, path: str, group: str) -> Execution | None:
        """Queue ``path`` if its concurrency group is still free: checked and taken in
        one step across every engine on the store (another may have just taken it)."""
        with self.store.exclusive(f"group:{group}"):
            if group in self._busy_groups():
                return None
            return self.store.queue(pipeline.id, path, str(log_dir(self.settings, pipeline.id)))

    def _busy_groups(self) -> frozenset[str]:
        """Concurrency groups with an Exec queued or running anywhere, in any engine."""
        busy = set()
        for pipeline_id, path in self.store.active_executions():
            resolved = self._index(pipeline_id).resolved.get(path)
            if resolved is not None and resolved.concurrency:
                busy.add(resolved.concurrency)
        return frozenset(busy)

    def _start(
        self,
        pipeline: Pipeline,
        execution: Execution,
        spec: ExecSpec,
        resolved: Resolved,
        attach: str | None = None,
    ) -> None:
        with self._lock:
            self._running[execution.id] = _Running(
                execution.pipeline_id, execution.path, resolved.concurrency
            )
        thread = threading.Thread(
            target=self._execute,
            args=(Job(pipeline, execution, spec, resolved), attach),
            name=f"exec-{execution.id}",
            daemon=True,
        )
        thread.start()

    def _execute(self, job: Job, attach: str | None) -> None:
        execution, spec, resolved = job.execution, job.spec, job.resolved
        try:
            key = self.artifacts.reuse_key(job)
            reused = self.artifacts.take_earlier(job, key) if attach is None else None
            if reused is not None:
                result = ExecResult(DONE, None, reused.message)
            else:
                result = self._run(execution, spec, attach)
            offered = ""  # the key its outputs are offered for reuse under
            if result.state == DONE:
                result, offered = self.artifacts.after_done(job, key, reused, result)
            ended = self.store.finish_execution(
                execution.id,
                State(result.state),
                exit_code=result.exit_code,
                message=result.message,
                # A node whose worker was lost is tried again once, as after a crash.
                retry_limit=max(resolved.retry, 1) if result.lost else resolved.retry,
                reused_from=reused.execution_id if reused else None,
                reuse_key=offered,
            )
            self._count(ended.execution)
        except Exception:
            logger.exception("execution %s of %s failed to finish", execution.id, execution.path)
            self._finish_after_a_bug(execution)
        finally:
            with self._lock:
                self._running.pop(execution.id, None)
                self._killed.discard(execution.id)
            self._wake.set()

    def _count(self, execution: Execution) -> None:
        """The run's durations for /metrics; a failure costs a sample, never the node."""
        try:
            metrics.observe_execution(execution)
        except Exception:
            logger.exception("execution %s was not counted in the metrics", execution.id)

    def _finish(
        self, execution_id: int, state: State, *, message: str, retry_limit: int = 0
    ) -> None:
        """End an execution from the engine's own thread; the next tick sees what follows."""
        self.store.finish(execution_id, state, message=message, retry_limit=retry_limit)
        self._wake.set()

    def _finish_after_a_bug(self, execution: Execution) -> None:
        """A bug in the bot must not leave a node running forever: it ends worker_error."""
        try:
            self.store.finish(
                execution.id,
                State.WORKER_ERROR,
                message="ci-bot failed while running this node; see the bot's log",
            )
        except Exception:
            logger.exception("execution %s could not be marked failed", execution.id)

    def _run(self, execution: Execution, spec: ExecSpec, attach: str | None) -> ExecResult:
        started: Callable[[str], None] = lambda cid: self.store.mark_running(execution.id, cid)  # noqa: E731
        try:
            if attach is not None:
                return self.executor.reattach(attach, spec)
            return self.executor.run(spec, on_started=started)
        except Exception as error:  # an executor bug must not leave the node running forever
            logger.exception("executor failed on %s", execution.path)
            return ExecResult(WORKER_ERROR, None, f"the executor failed: {error}")

    def _honour_kills(self, snapshot: Snapshot) -> None:
        for execution in snapshot.kill_requests:
            if execution.id in self._killed:
                continue
            self._killed.add(execution.id)
            logger.info("killing execution %s (%s)", execution.id, execution.path)
            try:
                self.executor.kill(str(execution.id), bot_id=self.bot_id)
            except Exception:
                logger.exception("killing execution %s failed", execution.id)
            if execution.id not in self._running and execution.state is State.QUEUED:
                self._finish(execution.id, State.CANCELLED, message="cancelled before it started")

    # --- helpers -----------------------------------------------------------------------------

    def busy(self, pipeline_id: int) -> bool:
        """Whether an execution thread of this engine still works on the pipeline (a
        cancelled container is still being killed and removed, say)."""
        return self._busy(pipeline_id)

    def _busy(self, pipeline_id: int) -> bool:
        with self._lock:
            return any(r.pipeline_id == pipeline_id for r in self._running.values())

    def _index(self, pipeline_id: int) -> TreeIndex:
        """Each node's resolved parameters and each Exec's command, by path."""
        return index(self.store.tree(pipeline_id))

    def _spec(self, pipeline: Pipeline, execution: Execution) -> ExecSpec | str:
        tree = self._index(pipeline.id)
        command, resolved = tree.commands[execution.path], tree.resolved[execution.path]
        spec = build_spec(self.settings, pipeline, execution, command, resolved, self.secrets)
        return spec if isinstance(spec, str) else dataclasses.replace(spec, bot_id=self.bot_id)


def _has_groups(tree: TreeIndex) -> bool:
    return any(tree.resolved[path].concurrency for path in tree.exec_paths)
