"""Services beside an Exec: reached by name once ready, their logs kept, and nothing left
behind after done, error, cancel or timeout."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
from docker import DockerClient

from ci_bot.executors.base import LABEL_PIPELINE, LABEL_SERVICE_OF, ExecSpec
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.sidecars import service_log_path
from ci_bot.tree.containers import Service
from tests.executors.support import MakeSpec

pytestmark = pytest.mark.docker

HTTPD = (
    "mkdir -p /www && echo served-by-web > /www/index.html && "
    "echo web starting && httpd -f -v -p 8080 -h /www"
)
READY = "wget -q -O /dev/null http://127.0.0.1:8080/index.html"


def web(busybox_image: str, **changes: object) -> Service:
    fields: dict[str, object] = {"name": "web", "image": busybox_image, "run": HTTPD}
    fields.update({"ready": READY, **changes})
    return Service(**fields)  # type: ignore[arg-type]


@pytest.fixture
def leftovers(docker_engine: DockerClient, pipeline_id: str) -> Iterator[None]:
    """After the test: no service container and no network of this pipeline remains."""
    yield
    labels = [LABEL_SERVICE_OF, f"{LABEL_PIPELINE}={pipeline_id}"]
    containers = docker_engine.containers.list(
        all=True, filters={"label": labels}, ignore_removed=True
    )
    networks = docker_engine.networks.list(filters={"label": labels})
    assert (containers, networks) == ([], [])


@pytest.mark.usefixtures("leftovers")
def test_a_node_reaches_its_service_by_name_after_ready(
    executor: DockerExecutor, make_spec: MakeSpec, busybox_image: str
) -> None:
    spec = make_spec("wget -q -O - http://web:8080/index.html", services=(web(busybox_image),))

    result = executor.run(spec)

    assert result.state == "done", result.message
    log = spec.log_path.read_text()
    assert "[ci-bot] service web is ready" in log
    assert "served-by-web" in log
    assert "web starting" in service_log_path(spec.log_path, "web").read_text()


@pytest.mark.usefixtures("leftovers")
def test_a_chatty_services_log_is_masked_and_cut_at_the_nodes_limit(
    executor: DockerExecutor, make_spec: MakeSpec, busybox_image: str
) -> None:
    """A service's output is streamed to its log, not read whole: a database printing
    gigabytes keeps the bot's memory and the disk bounded like a node's own output."""
    chatty = Service(
        name="chatty",
        image=busybox_image,
        run="echo token=s3cr3t-value; yes 'a line of a chatty service' | head -n 200000; "
        "touch /tmp/said-it-all; sleep 300",
        ready="test -f /tmp/said-it-all",  # all of it is out before the node runs
    )
    spec = make_spec("true", services=(chatty,), log_limit=100_000)
    spec = dataclasses.replace(spec, secrets={"TOKEN": "s3cr3t-value"})

    result = executor.run(spec)

    assert result.state == "done", result.message
    lines = service_log_path(spec.log_path, "chatty").read_text().splitlines()
    assert lines[0].endswith(" token=***")
    cut = "the log was cut at 100000 (CI_BOT_LOG_LIMIT); later output is dropped"
    assert lines[-1].endswith(cut)
    assert sum(len(line) + 1 for line in lines[:-1]) <= 100_000
    assert all("s3cr3t" not in line for line in lines)


@pytest.mark.usefixtures("leftovers")
def test_services_go_when_the_node_fails(
    executor: DockerExecutor, make_spec: MakeSpec, busybox_image: str
) -> None:
    spec = make_spec("exit 4", services=(web(busybox_image), web(busybox_image, name="db")))

    result = executor.run(spec)

    assert result.state == "error"
    assert result.exit_code == 4


@pytest.mark.usefixtures("leftovers")
def test_a_service_that_never_gets_ready_fails_the_node_with_its_log_tail(
    executor: DockerExecutor, make_spec: MakeSpec, busybox_image: str
) -> None:
    never = web(busybox_image, run="echo db is booting; sleep 60", ready="false", ready_timeout=1)
    spec = make_spec("echo never runs", services=(never,))

    result = executor.run(spec)

    assert result.state == "error"
    assert result.message == "service web was not ready after 1s"
    log = spec.log_path.read_text()
    assert "db is booting" in log
    assert "never runs" not in log


@pytest.mark.usefixtures("leftovers")
def test_a_service_that_exits_fails_the_node(
    executor: DockerExecutor, make_spec: MakeSpec, busybox_image: str
) -> None:
    crashing = web(busybox_image, run="echo bad config >&2; exit 2", ready="true")
    spec = make_spec("true", services=(crashing,))

    result = executor.run(spec)

    assert result.state == "error"
    assert result.message == "service web exited with code 2 before it was ready"
    assert "bad config" in spec.log_path.read_text()


@pytest.mark.usefixtures("leftovers")
def test_a_cancelled_node_leaves_no_service(
    executor: DockerExecutor, make_spec: MakeSpec, busybox_image: str
) -> None:
    spec = make_spec("sleep 60", services=(web(busybox_image),))
    started = threading.Event()
    results = []
    thread = threading.Thread(
        target=lambda: results.append(executor.run(spec, on_started=lambda _: started.set()))
    )
    thread.start()
    assert started.wait(60)

    executor.kill(spec.execution_id)
    thread.join(60)

    assert results[0].state == "cancelled"


@pytest.mark.usefixtures("leftovers")
def test_a_timed_out_node_leaves_no_service(
    executor: DockerExecutor, make_spec: MakeSpec, busybox_image: str
) -> None:
    spec: ExecSpec = make_spec("sleep 60", services=(web(busybox_image),), timeout_seconds=1)

    result = executor.run(spec)

    assert result.state == "error"
    assert result.message == "timed out after 1s"
