"""What Docker saw of a pipeline's containers, for tests that run real pipelines.

Pipeline ids restart at 1 in every test's fresh store, so the ``ci-bot.pipeline``
label alone does not tell tests apart: every query here also takes the moment
the test's window opened and drops what happened before it.  Two bots (two test
runs) driving pipelines with the same id at the same moment still look alike
to Docker: events are matched to the bot's own executions, containers to its
data dir.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from docker import DockerClient
from docker.models.containers import Container

from ci_bot.executors.base import LABEL_EXECUTION, LABEL_NODE, LABEL_PIPELINE


@dataclass(frozen=True)
class ContainerEvent:
    action: str  # "start", "die", "kill"
    node: str  # the ci-bot.node label: "/test/unit"
    execution: str  # the ci-bot.execution label
    container_id: str
    at_ns: int


def container_events(
    client: DockerClient,
    pipeline_id: int | str,
    since: float,
    actions: tuple[str, ...] = ("start", "die"),
    executions: Collection[tuple[int, str]] | None = None,
) -> list[ContainerEvent]:
    """The pipeline's container events from ``since`` (time.time()) until now, in order.

    ``executions``: the bot's own (execution id, node path) pairs; events of
    containers labelled with any other pair belong to another bot on this engine.
    """
    # The engine takes fractional seconds (the stubs say int); the call returns once
    # ``until`` has passed.
    found = client.events(  # type: ignore[call-overload]
        since=since,
        until=time.time() + 0.2,
        decode=True,
        filters={
            "type": "container",
            "label": f"{LABEL_PIPELINE}={pipeline_id}",
            "event": list(actions),
        },
    )
    events = [
        ContainerEvent(
            action=event["Action"],
            node=event["Actor"]["Attributes"].get(LABEL_NODE, ""),
            execution=event["Actor"]["Attributes"].get(LABEL_EXECUTION, ""),
            container_id=event["Actor"]["ID"],
            at_ns=int(event["timeNano"]),
        )
        for event in found
    ]
    ours = None if executions is None else {(str(i), path) for i, path in executions}
    floor = int(since * 1e9)
    return sorted(
        (e for e in events if e.at_ns >= floor and (ours is None or (e.execution, e.node) in ours)),
        key=lambda e: e.at_ns,
    )


def started_nodes(
    client: DockerClient,
    pipeline_id: int | str,
    since: float,
    executions: Collection[tuple[int, str]] | None = None,
) -> list[str]:
    """The node of every container the pipeline started since ``since``, sorted."""
    events = container_events(client, pipeline_id, since, ("start",), executions)
    return sorted(event.node for event in events)


def peak_running(events: list[ContainerEvent]) -> int:
    """The most containers running at one moment, from their start and die events."""
    running = peak = 0
    for event in events:
        running += 1 if event.action == "start" else -1 if event.action == "die" else 0
        peak = max(peak, running)
    return peak


def containers_of(client: DockerClient, pipeline_id: int, data_dir: Path) -> list[Container]:
    """The pipeline's containers (running or not) that mount ``data_dir``.

    Another ci-bot on this engine may number its pipelines the same way, so a
    container counts as ours only when it mounts our data dir.
    """
    found = client.containers.list(
        all=True, filters={"label": f"{LABEL_PIPELINE}={pipeline_id}"}, ignore_removed=True
    )
    return [
        container
        for container in found
        if any(
            Path(mount.get("Source", "")).is_relative_to(data_dir)
            for mount in container.attrs.get("Mounts", [])
        )
    ]


def remove_leftovers(client: DockerClient, pipeline_ids: list[int], data_dir: Path) -> list[str]:
    """Remove the pipelines' containers that mount ``data_dir``; the ones that were left.

    Workspace images are kept until a pipeline is archived; a test's go when it ends
    (``no_workspace_images_kept`` in tests/conftest.py).
    """
    leftovers: list[str] = []
    for pipeline_id in pipeline_ids:
        for container in containers_of(client, pipeline_id, data_dir):
            leftovers.append(f"{container.labels.get(LABEL_NODE)} ({container.status})")
            container.remove(force=True)
    return leftovers


def ci_bot_command() -> list[str]:
    """The ``ci-bot`` console script of the interpreter running the tests."""
    script = Path(sys.executable).with_name("ci-bot")
    assert script.exists(), f"{script} is missing: install the project (pip install -e .)"
    return [str(script)]
