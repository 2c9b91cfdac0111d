"""What a node costs the Docker engine: the calls of a plain Exec, and what is
remembered between nodes (its image, its workspace image) and noticed when it went."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from docker import DockerClient

from ci_bot.executors.base import LABEL_PIPELINE
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.workspace import LABEL_BASE_IMAGE
from tests.executors.support import MakeSpec, containers_of, log_lines, watched_client

pytestmark = pytest.mark.docker

# create, attach (the output, opened before start), start, and the remove that follows
# in the background; the exit code comes from Docker's event stream, not from a wait.
# Nothing is inspected or looked up per node.
MOST_CALLS_PER_NODE = 4


class CountingClient:
    """A real client whose every HTTP request to the engine is written down."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.client = watched_client(self._count)

    def _count(self, request: Any) -> None:
        self.calls.append(f"{request.method} {request.path_url.split('?')[0]}")


@pytest.fixture
def counting(docker_engine: DockerClient) -> Iterator[CountingClient]:
    counting = CountingClient()
    yield counting
    counting.client.close()


def test_a_plain_exec_costs_the_engine_a_handful_of_calls(
    counting: CountingClient, make_spec: MakeSpec, docker_engine: DockerClient
) -> None:
    executor = DockerExecutor(counting.client)
    assert executor.run(make_spec("true")).state == "done"  # builds the workspace image
    assert executor.wait_for_removals(30)
    counting.calls.clear()

    spec = make_spec("echo second")
    result = executor.run(spec)
    assert executor.wait_for_removals(30)

    assert result.state == "done" and log_lines(spec) == ["second"]
    calls = counting.calls
    assert len(calls) <= MOST_CALLS_PER_NODE, calls
    verbs = [call.rsplit("/", 1)[-1] for call in calls if call.startswith("POST")]
    assert verbs == ["create", "attach", "start"], calls
    assert sum(call.startswith("DELETE") for call in calls) == 1, calls
    assert not [call for call in calls if "/images/" in call], "images are looked up once"
    assert containers_of(docker_engine, spec) == []


def test_a_workspace_image_removed_meanwhile_is_built_again(
    executor: DockerExecutor, make_spec: MakeSpec, docker_engine: DockerClient, pipeline_id: str
) -> None:
    assert executor.run(make_spec("cat a.txt")).state == "done"
    DockerExecutor(docker_engine).discard_pipeline(pipeline_id)  # another process archived it

    spec = make_spec("cat b.txt")
    result = executor.run(spec)

    assert result.state == "done", result
    assert log_lines(spec) == ["beta"]
    assert len(workspace_images(docker_engine, pipeline_id)) == 1


def workspace_images(client: DockerClient, pipeline_id: str) -> list[Any]:
    labels = [f"{LABEL_PIPELINE}={pipeline_id}", LABEL_BASE_IMAGE]
    return list(client.images.list(filters={"label": labels}))


def test_a_node_that_closes_its_output_and_runs_on_is_waited_for(
    executor: DockerExecutor, make_spec: MakeSpec
) -> None:
    # Its output ends long before it does: the exit code is Docker's wait's.
    spec = make_spec("echo closing; exec >&- 2>&-; sleep 2; exit 5")

    result = executor.run(spec)

    assert (result.state, result.exit_code) == ("error", 5)
    assert log_lines(spec) == ["closing", "[ci-bot] exited with code 5"]
