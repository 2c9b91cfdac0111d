"""An image's id over the engine's Unix socket (``image_ids``), and the executor made on
first use (``DeferredExecutor``) that asks it while Docker's client is not loaded."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.errors import ExecutorError
from ci_bot.executors import image_ids
from ci_bot.executors.base import ExecSpec
from ci_bot.executors.deferred import DeferredExecutor
from ci_bot.executors.fake import FakeExecutor
from tests.threads import at_once

ENGINE = image_ids.DEFAULT_URL


@pytest.mark.docker
def test_the_id_is_the_one_docker_py_gives(docker_engine: DockerClient, busybox_image: str) -> None:
    assert image_ids.image_id(ENGINE, busybox_image) == docker_engine.images.get(busybox_image).id


@pytest.mark.docker
def test_an_image_the_engine_lacks_has_no_id(docker_engine: DockerClient) -> None:
    assert image_ids.image_id(ENGINE, "ci-bot-test/never-built:nope") is None
    assert image_ids.image_id(ENGINE, "127.0.0.1:1/never/pushed@sha256:" + "0" * 64) is None


def test_an_engine_that_does_not_answer_is_named_with_the_cause(tmp_path: Path) -> None:
    url = f"unix://{tmp_path / 'no-engine.sock'}"

    with pytest.raises(ExecutorError) as raised:
        image_ids.image_id(url, "busybox")

    assert str(raised.value).startswith(f"the Docker engine at {url} could not be reached (")
    assert "No such file or directory" in str(raised.value)


@pytest.mark.parametrize(
    ("setting", "docker_host", "expected"),
    [
        (None, None, "unix:///var/run/docker.sock"),
        (None, "unix:///run/user/1000/docker.sock", "unix:///run/user/1000/docker.sock"),
        ("tcp://10.0.0.2:2376", "unix:///elsewhere.sock", "tcp://10.0.0.2:2376"),
    ],
)
def test_the_engine_is_found_as_docker_py_finds_it(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, docker_host: str | None, expected: str
) -> None:
    if docker_host is None:
        monkeypatch.delenv("DOCKER_HOST", raising=False)
    else:
        monkeypatch.setenv("DOCKER_HOST", docker_host)

    assert image_ids.engine_url(setting) == expected


class Maker:
    """Makes a FakeExecutor on request, counting how often it was asked."""

    def __init__(self) -> None:
        self.made: list[FakeExecutor] = []

    def __call__(self) -> FakeExecutor:
        self.made.append(FakeExecutor(image_ids={"busybox": "sha256:fake"}))
        return self.made[-1]


def test_the_executor_is_made_once_on_the_first_call_that_needs_it() -> None:
    maker = Maker()
    deferred = DeferredExecutor(maker, docker_url="tcp://10.0.0.2:2376")
    assert maker.made == []

    assert deferred.running() == []
    assert deferred.image_id("busybox") == "sha256:fake"
    deferred.release_pipeline("7")

    assert len(maker.made) == 1
    assert deferred.resolve() is maker.made[0]


def test_parallel_nodes_asking_at_once_share_one_executor() -> None:
    """Four Execs of a Parallel start together; each making its own executor built the
    pipeline's workspace image four times and scattered its removals."""
    maker = Maker()
    slow = threading.Event()

    def make_slowly() -> FakeExecutor:
        slow.wait(0.2)  # meanwhile the other threads ask too
        return maker()

    deferred = DeferredExecutor(make_slowly, docker_url="tcp://10.0.0.2:2376")

    got = at_once(4, deferred.resolve)

    assert len(maker.made) == 1
    assert got == [maker.made[0]] * 4


@pytest.mark.docker
def test_an_image_id_is_asked_over_the_socket_until_the_executor_is_made(
    docker_engine: DockerClient, busybox_image: str
) -> None:
    maker = Maker()
    deferred = DeferredExecutor(maker, docker_url=ENGINE)

    assert deferred.image_id(busybox_image) == docker_engine.images.get(busybox_image).id
    assert maker.made == []  # Docker's client is still not loaded

    deferred.resolve()
    assert deferred.image_id("busybox") == "sha256:fake"  # the executor's own answer now


def test_a_run_and_a_kill_go_to_the_made_executor(tmp_path: Path) -> None:
    maker = Maker()
    deferred = DeferredExecutor(maker)
    spec = ExecSpec(
        pipeline_id="1",
        node_path="/only",
        execution_id="1",
        image="busybox",
        command="true",
        source_dir=tmp_path,
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        log_path=tmp_path / "log",
    )
    deferred.kill("1")  # before the start: the fake, like Docker's, cancels the run then
    [fake] = maker.made
    fake.expect("/only")

    assert deferred.run(spec).state == "cancelled"
    assert fake.ran == [spec] and len(maker.made) == 1
