"""What a worker does: run one Exec per task on its host's Docker engine, and answer
the server's control commands (kill an execution, drop a pipeline's images).

A task may be delivered twice: the broker gives it again when the worker holding it
went silent past the visibility timeout, which is also what happens to a worker
that was killed. So a task first claims its execution, atomically, in the store:
one that ended already is not run again; one that a live worker holds (it beats)
is a duplicate, which looks again later; one whose worker stopped beating ends worker_error,
and the engine retries it, on whichever worker takes the retry.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
from dataclasses import dataclass
from typing import Any

from celery.worker.control import control_command

from ci_bot.errors import SecretError
from ci_bot.executors.base import WORKER_ERROR, ExecResult, ExecSpec
from ci_bot.executors.docker import DockerExecutor
from ci_bot.secrets.store import SecretStore
from ci_bot.settings import Settings
from ci_bot.store.shared import Claim
from ci_bot.store.store import Store
from ci_bot.tree.states import State
from ci_bot.workers.app import app
from ci_bot.workers.datasync import DataSync
from ci_bot.workers.logship import LogShipper
from ci_bot.workers.specs import local_spec, spec_from_json

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 4 * HEARTBEAT_SECONDS  # a worker silent this long is taken for lost


@dataclass
class WorkerContext:
    name: str
    settings: Settings
    store: Store
    executor: DockerExecutor
    sync: DataSync


_context: WorkerContext | None = None


def set_context(context: WorkerContext) -> None:
    """Called once by ``ci-bot worker`` before the worker consumes anything."""
    global _context
    _context = context


def context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("this process is no ci-bot worker (ci-bot worker sets it up)")
    return _context


@app.task(name="ci_bot.run_exec", bind=True)  # type: ignore[untyped-decorator]
def run_exec(self: Any, spec_json: dict[str, Any]) -> dict[str, Any]:
    """Run one execution here; its result as a dict of ExecResult's fields."""
    ctx = context()
    spec = spec_from_json(spec_json)
    extras_blob = spec_json.get("extras_blob")
    execution_id = int(spec.execution_id)
    claim = ctx.store.claim_execution(execution_id, ctx.name, STALE_SECONDS)
    if claim is Claim.TAKEN:
        # A second delivery while a live worker runs it (a node that outlasts the
        # visibility timeout): look again later, until that worker ends it or is lost.
        logger.info("execution %s runs on another worker; looking again later", execution_id)
        raise self.retry(countdown=STALE_SECONDS, max_retries=None)
    if claim is Claim.FINISHED:
        ended = ctx.store.execution(execution_id)
        return _result(ExecResult(ended.state.value, ended.exit_code, ended.message))
    if claim is Claim.LOST:
        lost = ctx.store.execution(execution_id).worker
        message = f"worker {lost} was lost while this ran (it stopped answering)"
        return _result(ExecResult(WORKER_ERROR, None, message, lost=True))
    if ctx.store.execution(execution_id).kill_requested:
        return _result(ExecResult(State.CANCELLED.value, None, "cancelled before it started"))
    with_secrets = _secrets(ctx, spec, spec_json.get("secret_names") or [])
    if isinstance(with_secrets, ExecResult):
        return _result(with_secrets)
    return _result(_run_here(ctx, with_secrets, execution_id, extras_blob))


def _secrets(ctx: WorkerContext, spec: ExecSpec, names: list[str]) -> ExecSpec | ExecResult:
    """The spec with its secrets, read here by name (they never cross the broker), and
    every value the store holds to mask; an error result when one cannot be read."""
    source = SecretStore(ctx.store, ctx.settings)
    try:
        available = source.for_pipeline(ctx.store.pipeline(int(spec.pipeline_id))) if names else {}
        also_mask = tuple(source.all_values())
    except SecretError as error:
        return ExecResult(State.ERROR.value, None, f"on worker {ctx.name}: {error}")
    missing = [name for name in names if name not in available]
    if missing:
        message = (
            f"secret {', '.join(missing)} cannot be read on worker {ctx.name}: give it the "
            "same CI_BOT_SECRET_KEY (and secrets file) as the server"
        )
        return ExecResult(State.ERROR.value, None, message)
    secrets = {name: available[name] for name in names}
    return dataclasses.replace(spec, secrets=secrets, also_mask=also_mask)


def _run_here(
    ctx: WorkerContext, spec: ExecSpec, execution_id: int, extras_blob: str | None
) -> ExecResult:
    pipeline_id = int(spec.pipeline_id)
    data_root = ctx.settings.data_dir
    try:
        source = ctx.sync.fetch_source(pipeline_id, data_root / "sources")
        extras = (
            ctx.sync.fetch_blob_tree(extras_blob, data_root / "extras") if extras_blob else None
        )
        here = local_spec(spec, data_root, data_root / "cache", source, extras)
        with ctx.sync.lock(pipeline_id):
            base = ctx.sync.pull(pipeline_id, here.data_dir)
    except (OSError, KeyError) as error:
        return ExecResult(WORKER_ERROR, None, f"worker {ctx.name} could not get the files: {error}")
    started = lambda container_id: ctx.store.mark_running(execution_id, container_id)  # noqa: E731
    beating = _Heartbeat(ctx, execution_id)
    with beating, LogShipper(ctx.store, execution_id, here.log_path):
        result = ctx.executor.run(here, on_started=started)
    if result.state == State.DONE.value:
        with ctx.sync.lock(pipeline_id):
            ctx.sync.push(pipeline_id, here.data_dir, base)
    return result


class _Heartbeat:
    """Says in the store, every few seconds, that this worker still runs the execution."""

    def __init__(self, ctx: WorkerContext, execution_id: int) -> None:
        self._ctx, self._execution = ctx, execution_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"beat-{execution_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._ctx.store.heartbeat(self._execution, self._ctx.name)
            except Exception:
                logger.exception("heartbeat of execution %s failed", self._execution)


def _result(result: ExecResult) -> dict[str, Any]:
    return {
        "state": result.state,
        "exit_code": result.exit_code,
        "message": result.message,
        "container_id": result.container_id,
        "lost": result.lost,
        "worker": context().name,
    }


@app.task(name="ci_bot.image_id")  # type: ignore[untyped-decorator]
def image_id(image: str) -> str | None:
    """The engine's id of ``image`` on this worker's host (for reuse keys)."""
    return context().executor.image_id(image)


# --- control commands: broadcast by the server, answered by every worker ---------------


@control_command(args=[("execution_id", str), ("bot_id", str)], signature="<execution_id> <bot_id>")  # type: ignore[untyped-decorator]
def ci_bot_kill(state: Any, execution_id: str, bot_id: str = "") -> dict[str, bool]:
    """Kill that execution's container if it runs here."""
    context().executor.kill(execution_id, bot_id=bot_id)
    return {"ok": True}


@control_command(args=[("pipeline_id", str), ("bot_id", str)], signature="<pipeline_id> <bot_id>")  # type: ignore[untyped-decorator]
def ci_bot_release(state: Any, pipeline_id: str, bot_id: str = "") -> dict[str, bool]:
    """The pipeline settled: drop its services and its files on this host (its workspace
    images stay until it is archived: ``ci_bot_discard``)."""
    ctx = context()
    if not pipeline_id.isdigit():  # a name, never a path
        return {"ok": False}
    ctx.executor.release_pipeline(pipeline_id, bot_id=bot_id)
    shutil.rmtree(ctx.settings.data_dir / "pipelines" / pipeline_id / "data", ignore_errors=True)
    return {"ok": True}


@control_command(args=[("pipeline_id", str), ("bot_id", str)], signature="<pipeline_id> <bot_id>")  # type: ignore[untyped-decorator]
def ci_bot_discard(state: Any, pipeline_id: str, bot_id: str = "") -> dict[str, bool]:
    """The pipeline was archived: drop its workspace images on this host too."""
    if not pipeline_id.isdigit():  # a name, never a path
        return {"ok": False}
    context().executor.discard_pipeline(pipeline_id, bot_id=bot_id)
    return {"ok": True}
