"""Scaled out for real: the server's engine hands Execs to two ``ci-bot worker``
processes (separate data dirs) over a real redis-server, with the store on a real
PostgreSQL. Six pipelines whose last node reads what the first wrote to $CI_DATA
spread over both workers; one worker is SIGKILLed mid-node; everything ends done,
the data followed, no node ran to done twice, and the lost execution shows
worker_error, then a retry. A node's log is read live through the server's API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.engine.launch import launch_local
from ci_bot.executors.base import LABEL_PIPELINE
from ci_bot.secrets.store import SecretStore
from ci_bot.services import Services, open_services
from ci_bot.settings import Settings
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from ci_bot.web.app import create_app
from tests.gitrepos import make_repo
from tests.scale.conftest import Workers, wait_until
from tests.web.conftest import TOKEN, sign_in

pytestmark = pytest.mark.docker

HANDED_ON = """
[[push]]
pipeline = "ci"
[pipeline.ci]
image = "{image}"
[pipeline.ci.first]
run = 'echo "written by first of $CI_PIPELINE_ID" > "$CI_DATA/first.txt"'
[pipeline.ci.middle]
run = 'for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 1; done'
[pipeline.ci.last]
run = 'echo "last read: $(cat "$CI_DATA/first.txt")"'
"""


@pytest.fixture
def server(
    tmp_path: Path, scaled_env: dict[str, str], docker_engine: DockerClient
) -> Iterator[Services]:
    """The engine of ``ci-bot serve``, scaled out: it starts no container itself."""
    environ = {
        **scaled_env,
        "CI_BOT_DATA_DIR": str(tmp_path / "serve"),
        "CI_BOT_MAX_PARALLEL": "8",
        "CI_BOT_UI_TOKENS": TOKEN,
    }
    services = open_services(Settings.from_env(environ))
    services.executor.app.control.purge()  # type: ignore[attr-defined]
    services.engine.start()
    yield services
    services.engine.stop()
    services.store.close()
    ours = {"label": [LABEL_PIPELINE, f"ci-bot.bot={services.engine.bot_id}"]}
    for container in docker_engine.containers.list(all=True, filters=ours, ignore_removed=True):
        container.remove(force=True)  # what the killed worker's engine left running


def launch(services: Services, repo: Path) -> int:
    event = Event("push", branch="main")
    return launch_local(services.store, services.settings, services.executor, repo, event)


def test_six_pipelines_survive_a_sigkilled_worker_with_their_data(
    server: Services, workers: Workers, tmp_path: Path, busybox_image: str
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"conducto.cfg": HANDED_ON.format(image=busybox_image)})
    workers.start("w1")
    workers.start("w2")
    store = server.store
    pipelines = [launch(server, repo) for _ in range(6)]

    def middle_on_w1() -> bool:
        return any(
            e.path == "/middle" and e.state is State.RUNNING and (e.worker or "").startswith("w1#")
            for p in pipelines
            for e in store.executions(p)
        )

    wait_until(middle_on_w1, "a middle node running on w1")
    workers.kill("w1")
    wait_until(
        lambda: all(store.pipeline(p).finished_at is not None for p in pipelines),
        "all six pipelines ended",
        seconds=300,
    )

    executions = [e for p in pipelines for e in store.executions(p)]
    assert [store.pipeline(p).state for p in pipelines] == [State.DONE] * 6, workers.log("w2")
    for pipeline_id in pipelines:  # the data followed the pipeline from worker to worker
        last = next(e for e in store.executions(pipeline_id, "/last") if e.state is State.DONE)
        log = Path(last.log_path).read_text()
        assert f"last read: written by first of {pipeline_id}" in log
    running_twice = [  # a node's container started twice for one execution
        e.id
        for p in pipelines
        for e in store.executions(p)
        if sum(event.kind == "state" and event.state == "running" and event.path == e.path
               for event in store.events(p)) > len(store.executions(p, e.path))
    ]  # fmt: skip
    assert running_twice == []
    done_twice = [
        (e.pipeline_id, e.path)
        for e in executions
        if sum(o.state is State.DONE and (o.pipeline_id, o.path) == (e.pipeline_id, e.path)
               for o in executions) > 1
    ]  # fmt: skip
    assert done_twice == []
    lost = [e for e in executions if e.state is State.WORKER_ERROR]
    assert lost, "the killed worker's execution should show worker_error"
    for execution in lost:
        assert execution.worker is not None and execution.worker.startswith("w1#")
        assert "was lost while this ran" in execution.message
        retries = store.executions(execution.pipeline_id, execution.path)
        assert [r.state for r in retries][-1] is State.DONE
        assert retries[-1].attempt == execution.attempt + 1
        assert (retries[-1].worker or "").startswith("w2#")
    ran_on = {(e.worker or "").split("#")[0] for e in executions if e.state is State.DONE}
    assert ran_on == {"w1", "w2"}  # the work was spread over both


WAITS = """
[[push]]
pipeline = "ci"
[pipeline.ci]
image = "{image}"
[pipeline.ci.waits]
run = 'echo "first line from the worker"; sleep 600'
"""


def test_a_nodes_log_is_read_live_through_the_servers_api_and_a_cancel_reaches_it(
    server: Services, workers: Workers, tmp_path: Path, busybox_image: str
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"conducto.cfg": WAITS.format(image=busybox_image)})
    workers.start("w1", concurrency=1)
    pipeline_id = launch(server, repo)
    client = create_app(server).test_client()
    assert sign_in(client).status_code == 302
    store = server.store
    wait_until(lambda: store.executions(pipeline_id, "/waits"), "the node queued")
    execution_id = store.executions(pipeline_id, "/waits")[0].id
    url = f"/api/pipelines/{pipeline_id}/executions/{execution_id}/log"

    def line_shown() -> bool:
        answer = client.get(url)
        lines = answer.get_json().get("lines", []) if answer.status_code == 200 else []
        return any("first line from the worker" in line for line in lines)

    wait_until(line_shown, "the worker's first line in the server's API")
    assert store.execution(execution_id).state is State.RUNNING  # it sleeps for 10 minutes
    assert (store.execution(execution_id).worker or "").startswith("w1#")

    store.cancel(pipeline_id, actor="test")
    wait_until(lambda: store.pipeline(pipeline_id).finished_at is not None, "the cancel")
    assert store.execution(execution_id).state is State.CANCELLED


SECRET_NODE = """
[[push]]
pipeline = "ci"
[pipeline.ci]
image = "{image}"
[pipeline.ci.deploy]
run = 'echo "token: $DEPLOY_TOKEN"; echo "length: ${{#DEPLOY_TOKEN}}"'
secrets = ["DEPLOY_TOKEN"]
"""


def test_a_worker_reads_a_nodes_secret_by_name_and_masks_it(
    server: Services, workers: Workers, tmp_path: Path, busybox_image: str
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"conducto.cfg": SECRET_NODE.format(image=busybox_image)})
    SecretStore(server.store, server.settings).set("repo", "DEPLOY_TOKEN", "scaled-secret-42")
    workers.start("w1", concurrency=1)

    pipeline_id = launch(server, repo)
    wait_until(lambda: server.store.pipeline(pipeline_id).finished_at is not None, "the end")

    [deploy] = server.store.executions(pipeline_id, "/deploy")
    assert deploy.state is State.DONE, deploy.message
    log = Path(deploy.log_path).read_text()
    assert "token: ***" in log and "length: 16" in log
    assert "scaled-secret-42" not in log
