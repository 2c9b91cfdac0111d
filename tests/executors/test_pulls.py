"""Images pulled from a real registry: by policy, once for concurrent nodes, with the
operator's credentials for trusted runs only, and failures as worker_errors that
name the image and say what the registry answered."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.executors.base import ExecResult
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.registry import load_registry_auth
from tests.executors.support import MakeSpec, events_since
from tests.registries import PushImage, Registry

pytestmark = pytest.mark.docker


def pulls_of(client: DockerClient, since: float, image: str) -> list[dict[str, object]]:
    """The engine's pulls of ``image`` from ``since`` on (events_since asks by the second)."""
    found = events_since(client, since, type="image", event="pull")
    return [e for e in found if e["id"] == image and int(e["timeNano"]) >= since * 1e9]


def test_a_missing_image_is_pulled_with_progress_in_the_log(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    public_registry: Registry,
    push_image: PushImage,
    docker_engine: DockerClient,
) -> None:
    image = push_image(public_registry, "tools:1")
    since = time.time()
    spec = make_spec("echo ran in the pulled image", image=image)

    result = executor.run(spec)

    assert result.state == "done", result.message
    log = spec.log_path.read_text()
    assert f"[ci-bot] pulling {image} from {public_registry.host} anonymously" in log
    assert f"Status: Downloaded newer image for {image}" in log
    assert "ran in the pulled image" in log
    assert len(pulls_of(docker_engine, since, image)) == 1


def test_concurrent_nodes_needing_one_image_pull_it_once(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    public_registry: Registry,
    push_image: PushImage,
    docker_engine: DockerClient,
) -> None:
    image = push_image(public_registry, "shared:1")
    since = time.time()
    specs = [make_spec("true", image=image, node_path=f"/n{i}") for i in range(3)]
    results: list[ExecResult] = []
    threads = [threading.Thread(target=lambda s=s: results.append(executor.run(s))) for s in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.state for r in results] == ["done"] * 3
    assert len(pulls_of(docker_engine, since, image)) == 1
    logs = [spec.log_path.read_text() for spec in specs]
    assert sum(f"pulling {image}" in log for log in logs) == 1
    assert sum("waiting for the pull" in log or "pulling" not in log for log in logs) == 2


def test_pull_always_pulls_an_image_the_engine_has(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    public_registry: Registry,
    push_image: PushImage,
    docker_engine: DockerClient,
) -> None:
    image = push_image(public_registry, "moving:latest")
    assert executor.run(make_spec("true", image=image)).state == "done"
    since = time.time()

    again = make_spec("true", image=image, pull="always")
    missing_only = make_spec("true", image=image)

    assert executor.run(again).state == "done"
    assert executor.run(missing_only).state == "done"
    assert len(pulls_of(docker_engine, since, image)) == 1
    assert "pulling" not in missing_only.log_path.read_text()


def test_a_missing_tag_is_a_worker_error_naming_it(
    executor: DockerExecutor, make_spec: MakeSpec, public_registry: Registry
) -> None:
    image = f"{public_registry.host}/nothing-here:2.0"
    spec = make_spec("true", image=image)

    result = executor.run(spec)

    assert result.state == "worker_error"
    assert result.message.startswith(f"cannot pull image {image}: ")
    assert "not found" in result.message or "unknown" in result.message
    assert "trying once more" not in spec.log_path.read_text()  # not worth a retry


def test_a_registry_that_is_down_is_tried_twice_then_a_worker_error(
    executor: DockerExecutor, make_spec: MakeSpec
) -> None:
    image = "127.0.0.1:9/down:1"  # the discard port: nothing listens there
    spec = make_spec("true", image=image)

    result = executor.run(spec)

    assert result.state == "worker_error"
    assert result.message.startswith(f"cannot pull image {image}: ")
    assert "connection refused" in result.message
    assert "trying once more" in spec.log_path.read_text()


def test_a_private_image_is_refused_without_credentials(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    private_registry: Registry,
    push_image: PushImage,
) -> None:
    image = push_image(private_registry, "private:1")

    result = executor.run(make_spec("true", image=image))

    assert result.state == "worker_error"
    assert result.message.startswith(f"cannot pull image {image}: ")
    assert "auth" in result.message  # "no basic auth credentials" / "unauthorized"


def test_a_private_image_is_pulled_with_the_operators_credentials(
    docker_engine: DockerClient,
    make_spec: MakeSpec,
    private_registry: Registry,
    push_image: PushImage,
    tmp_path: Path,
) -> None:
    image = push_image(private_registry, "private:2")
    auth = load_registry_auth(private_registry.auth_file(tmp_path))
    executor = DockerExecutor(docker_engine, registry_auth=auth)
    spec = make_spec("echo private ok", image=image)

    result = executor.run(spec)
    assert executor.wait_for_removals(30)

    assert result.state == "done", result.message
    log = spec.log_path.read_text()
    assert "with the operator's credentials" in log
    assert "private ok" in log
    assert private_registry.auth is not None
    assert private_registry.auth[1] not in log


def test_an_untrusted_run_never_gets_the_credentials_nor_the_cached_private_image(
    docker_engine: DockerClient,
    make_spec: MakeSpec,
    private_registry: Registry,
    push_image: PushImage,
    tmp_path: Path,
) -> None:
    image = push_image(private_registry, "private:3")
    auth = load_registry_auth(private_registry.auth_file(tmp_path))
    executor = DockerExecutor(docker_engine, registry_auth=auth)
    assert executor.run(make_spec("true", image=image)).state == "done"  # now on the engine

    fork = make_spec("echo fork ran", image=image, trusted=False)
    result = executor.run(fork)
    assert executor.wait_for_removals(30)

    assert result.state == "worker_error"
    assert result.message.startswith(f"cannot pull image {image}: ")
    log = fork.log_path.read_text()
    assert "pulled anonymously" in log
    assert "fork ran" not in log


def test_an_image_removed_after_a_run_is_pulled_again_by_the_same_executor(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    public_registry: Registry,
    push_image: PushImage,
    docker_engine: DockerClient,
) -> None:
    image = push_image(public_registry, "tools:again")
    assert executor.run(make_spec("true", image=image)).state == "done"
    docker_engine.images.remove(image, force=True)  # an operator's prune, say
    since = time.time()
    spec = make_spec("echo pulled again", image=image, pipeline_id=f"{uuid.uuid4().hex[:12]}")

    result = executor.run(spec)

    assert result.state == "done", result.message
    assert "pulled again" in spec.log_path.read_text()
    assert len(pulls_of(docker_engine, since, image)) == 1
