"""Ended containers are removed off the path to the next node, and never left behind:
``run`` returns without waiting for the removal, and a settling pipeline removes what
is still there (its executor's pending removals, or what a stopped bot left)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from docker import DockerClient

from ci_bot.executors.base import LABEL_BOT, LABEL_EXECUTION, LABEL_NODE, LABEL_PIPELINE
from ci_bot.executors.docker import DockerExecutor
from tests.executors.support import MakeSpec, containers_of, watched_client

pytestmark = pytest.mark.docker


class GatedRemovals:
    """A real client whose container removals wait until ``gate`` is set, once ``armed``."""

    def __init__(self) -> None:
        self.armed = False
        self.gate = threading.Event()
        self.removing = threading.Event()
        self.client = watched_client(self._hold_removals)

    def _hold_removals(self, request: Any) -> None:
        if self.armed and request.method == "DELETE" and "/containers/" in request.path_url:
            self.removing.set()
            assert self.gate.wait(60), "the test never let the removal go"


@pytest.fixture
def gated(docker_engine: DockerClient) -> Iterator[GatedRemovals]:
    gated = GatedRemovals()
    yield gated
    gated.gate.set()
    gated.client.close()


def test_run_returns_while_its_container_is_still_being_removed(
    gated: GatedRemovals, make_spec: MakeSpec, docker_engine: DockerClient
) -> None:
    executor = DockerExecutor(gated.client)
    assert executor.run(make_spec("true")).state == "done"  # builds the workspace image
    assert executor.wait_for_removals(30)
    gated.armed = True
    spec = make_spec("echo hello")

    result = executor.run(spec)  # would never return if it waited for the gated removal

    assert result.state == "done"
    assert gated.removing.wait(30), "the container was never removed"
    assert [c.id for c in containers_of(docker_engine, spec)] == [result.container_id]
    gated.gate.set()
    assert executor.wait_for_removals(30)
    assert containers_of(docker_engine, spec) == []


def test_a_settling_pipeline_waits_for_its_removals(
    executor: DockerExecutor, make_spec: MakeSpec, docker_engine: DockerClient, pipeline_id: str
) -> None:
    specs = [make_spec(f"echo {n}", node_path=f"/n{n}") for n in range(3)]
    assert [executor.run(spec).state for spec in specs] == ["done"] * 3

    executor.release_pipeline(pipeline_id)

    assert [containers_of(docker_engine, spec) for spec in specs] == [[], [], []]


def test_settling_removes_the_ended_containers_a_stopped_bot_left_and_keeps_running_ones(
    make_spec: MakeSpec, docker_engine: DockerClient, pipeline_id: str, busybox_image: str
) -> None:
    def container(execution: str, command: str, bot: str) -> Any:
        labels = {
            LABEL_PIPELINE: pipeline_id,
            LABEL_NODE: f"/{execution}",
            LABEL_EXECUTION: execution,
            LABEL_BOT: bot,
        }
        made = docker_engine.containers.run(busybox_image, command, labels=labels, detach=True)
        return made

    ended = container("1", "true", "bot-a")
    ended.wait()
    never_started = docker_engine.containers.create(
        busybox_image, "true", labels={**ended.labels, LABEL_EXECUTION: "2"}
    )
    running = container("3", "sleep 60", "bot-a")
    another_bots = container("4", "true", "bot-b")
    another_bots.wait()
    try:
        DockerExecutor(docker_engine).release_pipeline(pipeline_id, bot_id="bot-a")

        left = docker_engine.containers.list(
            all=True, filters={"label": f"{LABEL_PIPELINE}={pipeline_id}"}, ignore_removed=True
        )
        assert sorted(c.id for c in left) == sorted([running.id, another_bots.id])
        assert ended.id != never_started.id
    finally:
        for made in (running, another_bots):
            made.remove(force=True)
