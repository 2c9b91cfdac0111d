"""``CeleryExecutor``: the Executor the engine talks to when the bot is scaled out.

``run`` publishes what the server's copy of $CI_DATA gained (outputs restored by
``reuse``, signatures) and the source snapshot, sends one task for the execution
to the queue of its ``runs_on`` labels, follows the log from the shared store
into the server's copy while it runs, and, once the task answered, brings the
server's $CI_DATA up to date for the steps after a run (signing, reuse). The task
id is the execution's, so a server started after a crash waits on the same task.
Kills and releases are broadcast to every worker, which acts if it is concerned.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from celery.result import AsyncResult

from ci_bot import workspace_git
from ci_bot.executors.base import WORKER_ERROR, ExecResult, ExecSpec, RunningContainer
from ci_bot.executors.docker import DockerExecutor
from ci_bot.git import GitError
from ci_bot.settings import Settings
from ci_bot.store.shared import SharedFile
from ci_bot.store.store import Store
from ci_bot.workers.app import configure, queue_for
from ci_bot.workers.datasync import DataSync
from ci_bot.workers.logship import LogFollower
from ci_bot.workers.specs import spec_to_json, workspace_extras

logger = logging.getLogger(__name__)

INSPECT_SECONDS = 2.0


def task_id(spec: ExecSpec) -> str:
    return f"ci-bot-{spec.bot_id or 'local'}-exec-{spec.execution_id}"


class CeleryExecutor:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.app = configure(settings)
        self.store = store
        self._settings = settings
        self._docker: DockerExecutor | None = None  # only for generated trees' commands
        self.sync = DataSync(store)
        self._synced: dict[int, dict[str, SharedFile]] = {}  # what the server's copy holds

    def run(self, spec: ExecSpec, on_started: Callable[[str], None] | None = None) -> ExecResult:
        if not spec.pipeline_id.isdigit():
            # A generated tree's command (``generate-…``) belongs to no pipeline yet, so
            # nothing of it can be shared with a worker: it runs here, on serve's engine.
            logger.info("running %s on this host: it is no pipeline's yet", spec.pipeline_id)
            return self._local().run(spec, on_started)
        # The worker marks the execution running itself (with its container and name).
        pipeline_id = int(spec.pipeline_id)
        with self.sync.lock(pipeline_id):
            self.sync.publish_source(pipeline_id, spec.source_dir)
            self.sync.push(pipeline_id, spec.data_dir, self._synced.get(pipeline_id, {}))
            self._synced[pipeline_id] = dict(self.store.shared_files(pipeline_id))
            extras = [here for here, _ in workspace_extras(spec)]
            try:  # the worker gets the .git launching promised
                workspace_git.provide(extras)
            except GitError as error:
                return ExecResult(WORKER_ERROR, None, str(error))
            extras_blob = self.sync.publish_paths(extras) if extras else None
        logger.info("celery send %s to %s", spec.node_path, queue_for(spec.runs_on))
        # Secrets never travel through the broker: the worker reads them by name from the
        # store (with the same CI_BOT_SECRET_KEY), as it reads what to mask.
        nameless = dataclasses.replace(spec, secrets={}, also_mask=())
        payload = spec_to_json(nameless, extras_blob=extras_blob, secret_names=list(spec.secrets))
        pending = self.app.send_task(
            "ci_bot.run_exec",
            args=[payload],
            task_id=task_id(spec),
            queue=queue_for(spec.runs_on),
        )
        return self._wait(pending, spec)

    def reattach(self, container_id: str, spec: ExecSpec) -> ExecResult:
        """After a server restart: wait again for the task ``container_id`` names."""
        return self._wait(AsyncResult(container_id, app=self.app), spec)

    def _wait(self, pending: AsyncResult, spec: ExecSpec) -> ExecResult:
        with LogFollower(self.store, int(spec.execution_id), spec.log_path):
            try:
                answer: Any = pending.get(propagate=False, disable_sync_subtasks=False)
            except Exception as error:  # the broker or the result backend failed
                logger.exception("waiting for %s failed", spec.node_path)
                return ExecResult(WORKER_ERROR, None, f"the broker failed: {error}")
        if not isinstance(answer, dict):  # the task raised: a bug on the worker
            return ExecResult(WORKER_ERROR, None, f"the worker failed: {answer!r}")
        pipeline_id = int(spec.pipeline_id)
        with self.sync.lock(pipeline_id):
            self._synced[pipeline_id] = self.sync.pull(pipeline_id, spec.data_dir)
        return ExecResult(
            str(answer["state"]),
            answer.get("exit_code"),
            str(answer.get("message") or ""),
            answer.get("container_id"),
            lost=bool(answer.get("lost")),
        )

    def _local(self) -> DockerExecutor:
        if self._docker is None:
            self._docker = DockerExecutor(base_url=self._settings.docker_url)
        return self._docker

    def kill(self, execution_id: str, bot_id: str = "") -> None:
        arguments = {"execution_id": execution_id, "bot_id": bot_id}
        self.app.control.broadcast("ci_bot_kill", arguments=arguments)
        self.app.control.revoke(f"ci-bot-{bot_id or 'local'}-exec-{execution_id}")

    def running(self) -> list[RunningContainer]:
        """Tasks that workers hold now (running or reserved), as the engine's recovery
        knows containers; a task still waiting in the broker is no container yet."""
        inspect = self.app.control.inspect(timeout=INSPECT_SECONDS)
        found: list[RunningContainer] = []
        for listing in (inspect.active() or {}, inspect.reserved() or {}):
            for tasks in listing.values():
                for task in tasks:
                    spec = (task.get("args") or [{}])[0]
                    if not isinstance(spec, dict) or "execution_id" not in spec:
                        continue
                    found.append(
                        RunningContainer(
                            container_id=str(task["id"]),
                            pipeline_id=str(spec.get("pipeline_id", "")),
                            node_path=str(spec.get("node_path", "")),
                            execution_id=str(spec["execution_id"]),
                            bot_id=str(spec.get("bot_id", "")),
                        )
                    )
        return found

    def release_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        if not pipeline_id.isdigit():
            self._local().release_pipeline(pipeline_id, bot_id)
            return
        arguments = {"pipeline_id": pipeline_id, "bot_id": bot_id}
        self.app.control.broadcast("ci_bot_release", arguments=arguments)
        self._synced.pop(int(pipeline_id), None)

    def discard_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        if not pipeline_id.isdigit():
            self._local().discard_pipeline(pipeline_id, bot_id)
            return
        arguments = {"pipeline_id": pipeline_id, "bot_id": bot_id}
        self.app.control.broadcast("ci_bot_discard", arguments=arguments)

    def held_pipelines(self, bot_id: str = "") -> set[str]:
        """None known here: the workers hold the images, and each drops a pipeline's
        when ``discard_pipeline`` is broadcast."""
        return set()

    def image_id(self, image: str) -> str | None:
        """Asked of any worker: reuse keys follow the image as workers have it."""
        try:
            answer = self.app.send_task("ci_bot.image_id", args=[image]).get(timeout=60)
        except Exception as error:
            logger.warning("no worker said what %s is: %s", image, error)
            return None
        return str(answer) if answer else None
