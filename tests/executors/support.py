"""Helpers for the executor tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker
from docker import DockerClient

from ci_bot.executors.base import LABEL_EXECUTION, ExecSpec

MakeSpec = Callable[..., ExecSpec]


def log_lines(spec: ExecSpec) -> list[str]:
    """The log's lines without their timestamps."""
    return [line.split(" ", 1)[1] for line in spec.log_path.read_text().splitlines()]


def containers_of(client: DockerClient, spec: ExecSpec) -> list[Any]:
    """Every container (running or not) labelled with the spec's execution."""
    return client.containers.list(
        all=True, filters={"label": f"{LABEL_EXECUTION}={spec.execution_id}"}, ignore_removed=True
    )


def events_since(client: DockerClient, since: float, **filters: str) -> list[dict[str, Any]]:
    """The engine's events from ``since`` until now (waits up to a second for the window)."""
    until = int(time.time()) + 1
    return list(client.events(since=int(since), until=until, decode=True, filters=filters))


def watched_client(before_each: Callable[[Any], None]) -> DockerClient:
    """A real client that calls ``before_each(request)`` before it sends any request to
    the engine (to count the calls, or hold one back)."""
    client = docker.from_env()
    send = client.api.send

    def watched(request: Any, **options: Any) -> Any:
        before_each(request)
        return send(request, **options)

    client.api.send = watched  # type: ignore[method-assign]
    return client
