"""``DockerExecutor``: one real container per Exec, on the local Docker engine.

Every container gets a pristine copy-on-write /workspace (see ``workspace.py``),
the pipeline's data store at /ci/data, the repository's cache at /ci/cache, a pids
limit and the node's cpu/mem, and no Docker socket unless the node needs it and
the bot allows it. Its image is pulled (``pulls.py``) or built from the
repository's Dockerfile (``builds.py``) first when needed, and its services
(``sidecars.py``) are started and ready before it. Output is streamed into the
node's log as it comes; every container is removed once it ended, whatever happened.

A plain node (no services, its image and workspace image already seen) costs the
engine four calls: create, attach, start, and a remove after ``run`` returned.  Its
exit code comes from Docker's ``die`` event (``exits.py``), tens of milliseconds
before ``wait`` would return it; ``wait`` is asked only when the event is not known
or the code is not 0.  Nothing is inspected or looked up again per node
(``pulls.py`` and ``workspace.py`` say what is remembered and how a stale memory is
noticed); an exited container is inspected only when its exit code is not 0 (for
``OOMKilled``).  The container is removed by the executor, not by the engine's
``auto_remove`` (its exit code and ``OOMKilled`` are read from the stopped
container), and in the background (``removals.py``): the next node does not wait
for it.  When a pipeline settles
(``release_pipeline``) the removals are waited for and whatever ended container of
the pipeline is still there (a bot stopped before removing it) is removed.
Its workspace image is kept until the pipeline is archived (``discard_pipeline``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from contextlib import closing, suppress
from datetime import UTC, datetime
from pathlib import Path

import docker
from docker import DockerClient
from docker.errors import DockerException, ImageNotFound, NotFound

# The SDK's translation of create()'s keywords into the API's; private, but there since
# docker-py 2 and the only way to create without create()'s extra inspect.
from docker.models.containers import Container, _create_container_args  # type: ignore[attr-defined]
from docker.types import Mount
from requests import RequestException

from ci_bot.errors import ExecutorError
from ci_bot.executors import debugging, outcomes
from ci_bot.executors.base import (
    CANCELLED,
    DONE,
    ERROR,
    LABEL_BOT,
    LABEL_EXECUTION,
    LABEL_NODE,
    LABEL_PIPELINE,
    WORKER_ERROR,
    ExecResult,
    ExecSpec,
    RunningContainer,
)
from ci_bot.executors.builds import BuildFailed, BuildRequest, ImageBuilder, build_tag
from ci_bot.executors.exits import ExitEvents
from ci_bot.executors.follow import OutputFollower, ResumePoint, Watch, resume_point
from ci_bot.executors.logs import LogWriter
from ci_bot.executors.privileges import LEAST_PRIVILEGE
from ci_bot.executors.pulls import ImagePuller, ImageUnavailable
from ci_bot.executors.registry import RegistryAuth
from ci_bot.executors.removals import Remover, remove_ended
from ci_bot.executors.sidecars import ServiceFailed, Sidecars, remove_leftovers
from ci_bot.executors.workspace import WORKSPACE, BaseImageMissing, WorkspaceImages
from ci_bot.progress import LOGGER as PROGRESS_LOGGER
from ci_bot.tree.containers import Service

logger = logging.getLogger(__name__)
# Pull, build and service progress, one line each, for whoever watches (``ci-bot run``).
progress_logger = logging.getLogger(PROGRESS_LOGGER)

DEFAULT_URL = "unix:///var/run/docker.sock"
CONTAINER_SOCKET = "/var/run/docker.sock"
PIDS_LIMIT = 4096
POOL_SIZE = 64  # one connection per followed log stream, plus calls in between
# After a container's output ended, how long its ``die`` event may take before ``wait``
# is asked instead (a container that closed its output and runs on, a late event).
EXIT_EVENT_SECONDS = 1.0
REMOVALS_SECONDS = 60.0  # how long a settling pipeline waits for its containers' removal


class DockerExecutor:
    """Runs Execs on a Docker engine; ``client`` or ``base_url`` choose which one."""

    def __init__(
        self,
        client: DockerClient | None = None,
        *,
        base_url: str | None = None,
        allow_docker_socket: bool = False,
        pids_limit: int = PIDS_LIMIT,
        registry_auth: RegistryAuth | None = None,
    ) -> None:
        self._client = client
        self._base_url = base_url
        self._allow_docker_socket = allow_docker_socket
        self._pids_limit = pids_limit
        self._workspaces = WorkspaceImages()
        self._puller = ImagePuller(registry_auth)
        self._builder = ImageBuilder(self._puller)
        self._lock = threading.Lock()  # guards the client, _watches and _cancelled
        self._watches: dict[str, Watch] = {}
        self._cancelled: set[str] = set()
        self._remover = Remover()
        self._exits = ExitEvents(self._docker)

    @property
    def engine_url(self) -> str:
        return self._base_url or os.environ.get("DOCKER_HOST") or DEFAULT_URL

    def run(self, spec: ExecSpec, on_started: Callable[[str], None] | None = None) -> ExecResult:
        return self._logged(spec, lambda log: self._run(spec, log, on_started))

    def reattach(self, container_id: str, spec: ExecSpec) -> ExecResult:
        resume = resume_point(spec.log_path)
        try:
            return self._logged(spec, lambda log: self._reattach(container_id, spec, log, resume))
        finally:
            if spec.services:  # started by the engine that died: kept, then removed
                try:
                    Sidecars.adopt(self._docker(), spec).remove()
                except (DockerException, RequestException, ExecutorError) as exc:
                    logger.warning("could not remove the services of %s: %s", spec.node_path, exc)

    def kill(self, execution_id: str, bot_id: str = "") -> None:
        with self._lock:
            watch = self._watches.get(execution_id)
            if watch is None:
                self._cancelled.add(execution_id)  # its run() has not started the container yet
        if watch is not None:
            watch.cancel()
            return
        labels = [f"{LABEL_EXECUTION}={execution_id}"]
        if bot_id:
            labels.append(f"{LABEL_BOT}={bot_id}")
        for container in self._list({"label": labels}):
            Watch(container, cancelled=True).cancel()  # started by another executor

    def running(self) -> list[RunningContainer]:
        # Exited ones too: a container that ended while no engine followed it still
        # holds its exit code and logs, and re-attaching collects them.
        containers = self._list({"label": LABEL_EXECUTION})
        return [
            RunningContainer(
                container_id=str(c.id),
                pipeline_id=c.labels.get(LABEL_PIPELINE, ""),
                node_path=c.labels.get(LABEL_NODE, ""),
                execution_id=c.labels.get(LABEL_EXECUTION, ""),
                bot_id=c.labels.get(LABEL_BOT, ""),
            )
            for c in containers
            if c.status in ("running", "exited")
        ]

    def release_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        try:
            # Ended containers not removed yet (by this executor's remover, or by a bot
            # that stopped first), and services left by an engine that died mid-node.
            # The workspace images stay for a reset and resume (discard_pipeline).
            self._remove_ended(pipeline_id, bot_id)
            remove_leftovers(self._docker(), pipeline_id=pipeline_id, bot_id=bot_id)
        except (DockerException, RequestException) as exc:
            raise ExecutorError(self._failure_message(exc)) from exc

    def discard_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        try:
            client = self._docker()
            self._remove_ended(pipeline_id, bot_id)
            remove_leftovers(client, pipeline_id=pipeline_id, bot_id=bot_id)
            self._workspaces.release(client, pipeline_id, bot_id)
        except (DockerException, RequestException) as exc:
            raise ExecutorError(self._failure_message(exc)) from exc

    def wait_for_removals(self, timeout: float | None = None) -> bool:
        """Wait until the container of every ``run`` that returned is removed; False when
        ``timeout`` seconds passed first."""
        return self._remover.wait(timeout)

    def held_pipelines(self, bot_id: str = "") -> set[str]:
        try:
            return self._workspaces.pipelines(self._docker(), bot_id)
        except (DockerException, RequestException) as exc:
            raise ExecutorError(self._failure_message(exc)) from exc

    def image_id(self, image: str) -> str | None:
        logger.debug("docker images.get %s", image)
        try:
            return str(self._docker().images.get(image).id)
        except ImageNotFound:
            return None
        except (DockerException, RequestException) as exc:
            raise ExecutorError(self._failure_message(exc)) from exc

    def debug(
        self, spec: ExecSpec, command: list[str], *, tty: bool, live: Path | None = None
    ) -> int:
        """Run ``command`` (no command: a shell) in a container of the node, here, with its
        services; the command's exit code. Progress lines go to ``spec.log_path``."""
        client = self._docker()
        with LogWriter(spec.log_path, spec.secrets, also_mask=spec.also_mask) as log:
            sidecars = self._sidecars(client, spec, log)
            try:
                image_id = self._prepare(client, spec, log, sidecars)
                if sidecars is not None:
                    sidecars.wait_ready(lambda: False)
                argv = debugging.docker_run_argv(
                    spec,
                    image_id,
                    command,
                    tty=tty,
                    network=sidecars.network if sidecars else None,
                    live=live,
                )
                return debugging.run_docker(argv, debugging.debug_env(spec), self._base_url)
            except (ImageUnavailable, BuildFailed, ServiceFailed) as error:
                raise ExecutorError(str(error)) from None
            except (DockerException, RequestException) as exc:
                raise ExecutorError(self._failure_message(exc)) from exc
            finally:
                if sidecars is not None:
                    sidecars.remove()

    # -- one execution --------------------------------------------------------------

    def _logged(self, spec: ExecSpec, body: Callable[[LogWriter], ExecResult]) -> ExecResult:
        """Run ``body`` with the node's log open; infrastructure failures become results."""
        try:
            log = LogWriter(
                spec.log_path,
                spec.secrets,
                limit_bytes=spec.log_limit,
                also_mask=spec.also_mask,
            )
        except OSError as exc:
            return ExecResult(WORKER_ERROR, None, f"cannot write the log {spec.log_path}: {exc}")
        with log:
            try:
                result = body(log)
            except ExecutorError as exc:
                result = ExecResult(WORKER_ERROR, None, str(exc))
            except (DockerException, RequestException) as exc:
                result = ExecResult(WORKER_ERROR, None, self._failure_message(exc))
            if result.message and result.state != DONE:
                log.note(result.message)
        return result

    def _run(
        self, spec: ExecSpec, log: LogWriter, on_started: Callable[[str], None] | None
    ) -> ExecResult:
        if spec.requires_docker and not self._allow_docker_socket:
            return outcomes.socket_refused()
        client = self._docker()
        sidecars = self._sidecars(client, spec, log)
        try:
            image_id = self._prepare(client, spec, log, sidecars)
            return self._run_container(client, image_id, spec, log, on_started, sidecars)
        except ImageUnavailable as error:
            return ExecResult(WORKER_ERROR, None, str(error))
        except BuildFailed as error:
            return ExecResult(ERROR, None, str(error))
        except ServiceFailed as error:
            for line in error.log_tail:
                log.note(f"  | {line}")
            return ExecResult(ERROR, None, str(error))
        finally:
            if sidecars is not None:
                sidecars.remove()

    def _sidecars(self, client: DockerClient, spec: ExecSpec, log: LogWriter) -> Sidecars | None:
        if not spec.services:
            return None
        image_of = lambda service: self._service_image(client, spec, service, log)  # noqa: E731
        return Sidecars(client, spec, image_of, _progress(spec, log))

    def _prepare(
        self, client: DockerClient, spec: ExecSpec, log: LogWriter, sidecars: Sidecars | None
    ) -> str:
        """The node's image pulled or built, its workspace image, its services started;
        the workspace image's id."""
        image_id = self._workspace_image(client, spec, log)
        if sidecars is not None:
            sidecars.start()
        return image_id

    def _workspace_image(self, client: DockerClient, spec: ExecSpec, log: LogWriter) -> str:
        """The id of the node's workspace image, its image pulled or built first."""

        def provide() -> str:
            self._provide_image(client, spec, log)
            return self._workspaces.image_for(
                client,
                spec.pipeline_id,
                spec.image,
                spec.source_dir,
                spec.bot_id,
                spec.workspace_extras,
            )

        try:
            return provide()
        except BaseImageMissing:
            if spec.build is not None:
                raise
            # Seen on the engine before and removed since: pulled again, as a first time.
            self._puller.forget(spec.image)
            return provide()

    def _run_container(
        self,
        client: DockerClient,
        image_id: str,
        spec: ExecSpec,
        log: LogWriter,
        on_started: Callable[[str], None] | None,
        sidecars: Sidecars | None,
    ) -> ExecResult:
        container = self._create_or_rebuild(
            client, image_id, spec, log, sidecars.network if sidecars else None
        )
        try:
            watch = self._watch(spec.execution_id, container)
            if sidecars is not None and not watch.cancelled:
                sidecars.wait_ready(lambda: watch.cancelled)
            if watch.cancelled:
                return ExecResult(CANCELLED, None, "cancelled", str(container.id))
            # Attached before start: the attach stream then holds all of the output.
            with closing(OutputFollower.attach(container, log)) as output:
                self._exits.expect(str(container.id))
                logger.debug("docker start %s (%s)", container.id, spec.node_path)
                container.start()
                watch.kill_if_cancelled()  # kill() may have come between the check and start()
                if on_started is not None:
                    on_started(str(container.id))
                return self._follow(watch, spec, log, float(spec.timeout_seconds), output=output)
        finally:
            self._forget(spec.execution_id, container)

    def _provide_image(self, client: DockerClient, spec: ExecSpec, log: LogWriter) -> None:
        """Pull or build the node's image, as its parameters say."""
        progress = _progress(spec, log)
        if spec.build is None:
            self._puller.ensure(
                client, spec.image, spec.pull, trusted=spec.trusted, progress=progress
            )
            return
        request = BuildRequest(spec.source_dir, spec.build, spec.image, spec.trusted)
        wrote: list[bool] = []

        def write_log(line: str) -> None:
            wrote.append(True)
            log.write(line.encode() + b"\n")

        try:
            self._builder.ensure(client, request, write_log, progress)
        except BuildFailed as failure:
            if not wrote:  # another node ran the build: show its end here too
                for line in failure.log_lines:
                    log.write(line.encode() + b"\n")
            raise

    def _service_image(
        self, client: DockerClient, spec: ExecSpec, service: Service, log: LogWriter
    ) -> str:
        progress = _progress(spec, log)
        if service.build is None:
            image = str(service.image)
            self._puller.ensure(client, image, spec.pull, trusted=spec.trusted, progress=progress)
            return image
        tag = build_tag(spec.source_dir, service.build)
        request = BuildRequest(spec.source_dir, service.build, tag, spec.trusted)
        self._builder.ensure(
            client, request, lambda line: log.write(line.encode() + b"\n"), progress
        )
        return tag

    def _reattach(
        self, container_id: str, spec: ExecSpec, log: LogWriter, resume: ResumePoint
    ) -> ExecResult:
        try:
            logger.debug("docker containers.get %s", container_id)
            container = self._docker().containers.get(container_id)
        except NotFound:
            return outcomes.container_gone(container_id, spec)
        if container.status == "created":
            self._forget(spec.execution_id, container)
            return outcomes.never_started(container_id, spec)
        log.note(f"following container {container_id[:12]} again after an engine restart")
        started = datetime.fromisoformat(container.attrs["State"]["StartedAt"])
        elapsed = (datetime.now(UTC) - started).total_seconds()
        watch = self._watch(spec.execution_id, container)
        try:
            return self._follow(watch, spec, log, spec.timeout_seconds - elapsed, resume)
        finally:
            self._forget(spec.execution_id, container)

    def _follow(
        self,
        watch: Watch,
        spec: ExecSpec,
        log: LogWriter,
        seconds_left: float,
        resume: ResumePoint | None = None,
        output: OutputFollower | None = None,
    ) -> ExecResult:
        """Copy the output into the log until the container ends or the deadline kills it."""
        container = watch.container
        output = output or OutputFollower(container, log, resume)
        timer = threading.Timer(max(0.0, seconds_left), watch.expire)
        timer.daemon = True
        timer.start()
        try:
            output.follow()
            status = self._exit_code(container)
        finally:
            timer.cancel()
            timer.join()  # a kill under way sets its flag before we read it
        output.catch_up()
        oom_killed = False
        if status != 0:  # only a failure's message depends on it: one call saved per success
            logger.debug("docker inspect %s", container.id)
            with suppress(NotFound):  # another executor following it removed it first
                container.reload()
            oom_killed = bool(container.attrs.get("State", {}).get("OOMKilled"))
        return outcomes.ended(
            spec, str(container.id), status, watch.cancelled, watch.timed_out, oom_killed
        )

    def _exit_code(self, container: Container) -> int:
        """The exit code of a container whose output ended: from its ``die`` event when
        that says 0; otherwise Docker's ``wait`` (a failure's ``OOMKilled`` is read next,
        from the container as it stopped)."""
        if self._exits.exit_code(str(container.id), EXIT_EVENT_SECONDS) == 0:
            return 0
        logger.debug("docker wait %s", container.id)
        return int(container.wait()["StatusCode"])

    def _create_or_rebuild(
        self,
        client: DockerClient,
        image_id: str,
        spec: ExecSpec,
        log: LogWriter,
        network: str | None,
    ) -> Container:
        """``_create``; when the remembered workspace image is gone (the pipeline was
        archived by another process, images were pruned), it is built again, once."""
        try:
            return self._create(client, image_id, spec, network)
        except ImageNotFound:
            logger.info("workspace image %s is gone; building it again", image_id)
            self._workspaces.forget(image_id)
            self._puller.forget(spec.image)
            return self._create(client, self._workspace_image(client, spec, log), spec, network)

    def _create(
        self, client: DockerClient, image_id: str, spec: ExecSpec, network: str | None
    ) -> Container:
        """The node's container, created (not started).  Made through the low-level API:
        the SDK's ``containers.create`` inspects the new container once more, and
        nothing here needs more than its id."""
        environment = {**spec.env, **spec.secrets, "CI_DATA": "/ci/data", "CI_CACHE": "/ci/cache"}
        mounts = [_bind(spec.data_dir, "/ci/data"), _bind(spec.cache_dir, "/ci/cache")]
        if spec.requires_docker:
            environment.update(self._socket_env())
            mounts.extend(self._socket_mounts())
        logger.debug("docker containers.create %s for %s", spec.image, spec.node_path)
        arguments = _create_container_args(  # the SDK's own translation of these keywords
            dict(
                image=image_id,
                version=client.api.api_version,
                command=["sh", "-c", spec.command],
                working_dir=WORKSPACE,
                labels={
                    LABEL_PIPELINE: spec.pipeline_id,
                    LABEL_NODE: spec.node_path,
                    LABEL_EXECUTION: spec.execution_id,
                    **({LABEL_BOT: spec.bot_id} if spec.bot_id else {}),
                },
                environment=environment,
                mounts=mounts,
                nano_cpus=int(spec.cpu * 1e9) if spec.cpu else None,
                mem_limit=spec.mem_bytes,
                memswap_limit=spec.mem_bytes,  # no swap: past the limit the node is OOM-killed
                pids_limit=spec.pids_limit or self._pids_limit,
                network=network,  # None: the default bridge
                **LEAST_PRIVILEGE,
            )
        )
        created = client.api.create_container(**arguments)
        return client.containers.prepare_model({"Id": created["Id"]})

    def _socket_mounts(self) -> list[Mount]:
        url = self.engine_url
        if url.startswith("unix://"):
            return [Mount(CONTAINER_SOCKET, url.removeprefix("unix://"), type="bind")]
        return []

    def _socket_env(self) -> dict[str, str]:
        url = self.engine_url
        return {} if url.startswith("unix://") else {"DOCKER_HOST": url}

    # -- bookkeeping ------------------------------------------------------------------

    def _watch(self, execution_id: str, container: Container) -> Watch:
        with self._lock:
            cancelled = execution_id in self._cancelled
            self._cancelled.discard(execution_id)
            watch = self._watches[execution_id] = Watch(container, cancelled)
        return watch

    def _forget(self, execution_id: str, container: Container) -> None:
        with self._lock:
            self._watches.pop(execution_id, None)
            self._cancelled.discard(execution_id)
        self._exits.forget(str(container.id))
        # Its exit code and output are read: the next node need not wait for the removal.
        # A bot stopping before it is done leaves an ended container that the pipeline's
        # settling (or the next engine's start) removes.
        self._remover.remove_later(container)

    def _remove_ended(self, pipeline_id: str, bot_id: str) -> None:
        """The pipeline's ended Exec containers removed: this executor's pending removals
        waited for, then any left (by a bot stopped before removing them)."""
        if not self._remover.wait(REMOVALS_SECONDS):
            logger.warning("containers are still being removed; sweeping pipeline %s", pipeline_id)
        with self._lock:
            followed = set(self._watches)
        remove_ended(self._list, pipeline_id, bot_id, followed)

    def _list(self, filters: dict[str, str | list[str] | bool]) -> list[Container]:
        logger.debug("docker containers.list %s", filters)
        try:
            return self._docker().containers.list(all=True, filters=filters, ignore_removed=True)
        except (DockerException, RequestException) as exc:
            raise ExecutorError(self._failure_message(exc)) from exc

    def _docker(self) -> DockerClient:
        """The client, connected on first use so a missing engine is a result, not a crash."""
        with self._lock:
            if self._client is None:
                logger.debug("docker connect %s", self.engine_url)
                try:
                    self._client = (
                        docker.DockerClient(base_url=self._base_url, max_pool_size=POOL_SIZE)
                        if self._base_url
                        else docker.from_env(max_pool_size=POOL_SIZE)
                    )
                except DockerException as exc:
                    raise ExecutorError(outcomes.unreachable(self.engine_url, exc)) from exc
            return self._client

    def _failure_message(self, exc: DockerException | RequestException) -> str:
        return outcomes.engine_failure(self.engine_url, exc)


def _bind(host_dir: Path, target: str) -> Mount:
    host_dir.mkdir(parents=True, exist_ok=True)
    return Mount(target, str(host_dir.resolve()), type="bind")


def _progress(spec: ExecSpec, log: LogWriter) -> Callable[[str], None]:
    """A progress line: a note in the node's log, and a line for whoever watches."""

    def say(text: str) -> None:
        log.note(text)
        progress_logger.info("%s  %s", spec.node_path, text)

    return say
