"""The services of one execution: sidecar containers on a network of the Exec's own.

Before the Exec starts, a network is made for it and each service starts there,
reachable from the Exec by its name; the Exec waits until every service's
``ready`` command succeeds inside it. When the Exec ends, each service's output is
saved beside the node's log and the services and the network are removed.

Everything here carries ``ci-bot.service-of=<execution>`` (never the Exec label),
so ``remove_leftovers`` finds what a crashed engine left behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from docker import DockerClient
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.models.networks import Network
from requests import RequestException

from ci_bot.executors.base import (
    LABEL_BOT,
    LABEL_NODE,
    LABEL_PIPELINE,
    LABEL_SERVICE,
    LABEL_SERVICE_OF,
    ExecSpec,
)
from ci_bot.executors.logs import LogWriter
from ci_bot.executors.privileges import LEAST_PRIVILEGE
from ci_bot.executors.pulls import Progress
from ci_bot.tree.containers import Service
from ci_bot.tree.durations import format_duration

logger = logging.getLogger(__name__)

TAIL_LINES = 20
READY_PAUSE = 0.5  # between two tries of a `ready` command


class ServiceFailed(Exception):
    """A service never got ready (or exited); ``str()`` says which and why, ``log_tail``
    shows what it printed."""

    def __init__(self, message: str, log_tail: list[str]) -> None:
        super().__init__(message)
        self.log_tail = log_tail


def service_log_path(log_path: Path, service: str) -> Path:
    """Where a service's output is kept: beside the node's log (``12.log`` → ``12.db.log``)."""
    return log_path.with_name(f"{log_path.stem}.{service}{log_path.suffix}")


def network_name(spec: ExecSpec) -> str:
    return f"ci-bot-{spec.bot_id or 'local'}-{spec.execution_id}"


class Sidecars:
    """Starts, waits for, and removes the services of ``spec``."""

    def __init__(
        self,
        client: DockerClient,
        spec: ExecSpec,
        image_of: Callable[[Service], str],
        progress: Progress,
    ) -> None:
        self._client = client
        self._spec = spec
        self._image_of = image_of
        self._progress = progress
        self._network: Network | None = None
        self._started: list[tuple[Service, Container]] = []

    @classmethod
    def adopt(cls, client: DockerClient, spec: ExecSpec) -> Sidecars:
        """The services another engine started for ``spec`` (before it died)."""
        sidecars = cls(client, spec, lambda service: "", lambda text: None)
        by_name = {service.name: service for service in spec.services}
        labels = [f"{LABEL_SERVICE_OF}={spec.execution_id}"]
        if spec.bot_id:  # execution ids are only unique within one bot's store
            labels.append(f"{LABEL_BOT}={spec.bot_id}")
        found = client.containers.list(all=True, filters={"label": labels}, ignore_removed=True)
        for container in found:
            service = by_name.get(container.labels.get(LABEL_SERVICE, ""))
            if service is not None:
                sidecars._started.append((service, container))
        return sidecars

    @property
    def network(self) -> str:
        return network_name(self._spec)

    def start(self) -> None:
        """The network and every service, started (not yet ready)."""
        logger.debug("docker networks.create %s", self.network)
        self._network = self._client.networks.create(self.network, labels=self._labels())
        for service in self._spec.services:
            image = self._image_of(service)
            self._progress(f"starting service {service.name} ({service.source})")
            container = self._client.containers.create(
                image,
                command=["sh", "-c", service.run] if service.run else None,
                environment=dict(service.env),
                labels={**self._labels(), LABEL_SERVICE: service.name},
                network=self.network,
                networking_config={
                    self.network: self._client.api.create_endpoint_config(aliases=[service.name])
                },
                pids_limit=self._spec.pids_limit,
                mem_limit=self._spec.mem_bytes,  # each service may have what its node may
                **LEAST_PRIVILEGE,
            )
            self._started.append((service, container))
            container.start()

    def wait_ready(self, cancelled: Callable[[], bool]) -> None:
        """Return once every ``ready`` succeeded; ServiceFailed past a service's timeout."""
        for service, container in self._started:
            if service.ready is None:
                continue
            deadline = time.monotonic() + service.ready_timeout
            said = ""
            while not cancelled():
                container.reload()
                if container.status != "running":
                    code = container.attrs["State"].get("ExitCode")
                    message = f"service {service.name} exited with code {code} before it was ready"
                    raise ServiceFailed(message, _tail(container))
                code, output = container.exec_run(["sh", "-c", service.ready])
                said = _last_line(output if isinstance(output, bytes) else b"")
                if code == 0:
                    self._progress(f"service {service.name} is ready")
                    break
                if time.monotonic() >= deadline:
                    waited = format_duration(service.ready_timeout)
                    last = f"; `{service.ready}` last said: {said}" if said else ""
                    message = f"service {service.name} was not ready after {waited}{last}"
                    raise ServiceFailed(message, _tail(container))
                time.sleep(READY_PAUSE)

    def remove(self) -> None:
        """Keep each service's output beside the node's log, then remove them all."""
        for service, container in self._started:
            self._save_log(service, container)
        remove_leftovers(self._client, self._spec.execution_id, bot_id=self._spec.bot_id)

    def _save_log(self, service: Service, container: Container) -> None:
        """The service's output, streamed to its log (never whole in memory), masked and
        cut at the node's log limit like the node's own."""
        path = service_log_path(self._spec.log_path, service.name)
        spec = self._spec
        try:
            output = container.logs(stdout=True, stderr=True, stream=True, follow=False)
            with LogWriter(
                path, spec.secrets, also_mask=spec.also_mask, limit_bytes=spec.log_limit
            ) as log:
                for chunk in output:
                    log.write(chunk)
        except (APIError, RequestException, OSError) as error:
            logger.warning("could not keep the log of service %s: %s", service.name, error)

    def _labels(self) -> dict[str, str]:
        spec = self._spec
        labels = {
            LABEL_SERVICE_OF: spec.execution_id,
            LABEL_PIPELINE: spec.pipeline_id,
            LABEL_NODE: spec.node_path,
        }
        if spec.bot_id:
            labels[LABEL_BOT] = spec.bot_id
        return labels


def remove_leftovers(
    client: DockerClient, execution_id: str = "", pipeline_id: str = "", bot_id: str = ""
) -> int:
    """Remove the service containers and networks of an execution (or of a whole
    pipeline) of the bot ``bot_id``; how many things were removed.  Pipeline and
    execution ids are only unique within one bot's store, and bots can share a
    Docker engine: without ``bot_id`` another bot's pipeline 1 would lose its services."""
    labels = [f"{LABEL_SERVICE_OF}={execution_id}" if execution_id else LABEL_SERVICE_OF]
    if pipeline_id:
        labels.append(f"{LABEL_PIPELINE}={pipeline_id}")
    if bot_id:
        labels.append(f"{LABEL_BOT}={bot_id}")
    removed = 0
    # A container may go between the listing and its inspection (its engine removed it).
    found = client.containers.list(all=True, filters={"label": labels}, ignore_removed=True)
    for container in found:
        try:
            container.remove(force=True)
            removed += 1
        except NotFound:
            pass
        except APIError as error:
            logger.warning("could not remove service container %s: %s", container.id, error)
    for network in client.networks.list(filters={"label": labels}):
        try:
            network.remove()
            removed += 1
        except NotFound:
            pass
        except APIError as error:
            logger.warning("could not remove network %s: %s", network.name, error)
    return removed


def _tail(container: Container) -> list[str]:
    try:
        output = container.logs(stdout=True, stderr=True, tail=TAIL_LINES)
    except (APIError, RequestException):
        return []
    return output.decode("utf-8", "replace").splitlines()


def _last_line(output: bytes) -> str:
    lines = output.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else ""
