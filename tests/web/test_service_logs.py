"""A node's service logs, kept beside its log: listed with its execution, served as text,
linked from the node's page, and never a way out of the log directory."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from ci_bot.executors.sidecars import service_log_path
from ci_bot.store.shared import Claim
from ci_bot.tree.states import State
from tests.pipelines import create_pipeline
from tests.web.conftest import Bot, record_run

TREE = """
[pipeline.main]
image = "busybox"
[pipeline.main.test]
run = "pytest"
[pipeline.main.test.services.db]
image = "postgres:16"
ready = "pg_isready"
"""


def test_a_service_log_is_listed_served_and_linked(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    run = record_run(bot, pipeline_id, "/test", ["tests passed"])
    service_log_path(Path(run.log_path), "db").write_text("2026-01-02T03:04:05.678Z db ready\n")

    node = client.get(f"/api/pipelines/{pipeline_id}/nodes/test").get_json()
    execution = node["executions"][0]
    url = f"/api/pipelines/{pipeline_id}/executions/{run.id}/services/db.log"
    assert execution["service_logs"] == [{"name": "db", "url": url}]
    assert node["params"]["services"] == {"db": {"image": "postgres:16", "ready": "pg_isready"}}
    with client.get(url) as served:
        assert served.status_code == 200
        assert served.mimetype == "text/plain"
        assert served.get_data(as_text=True) == "2026-01-02T03:04:05.678Z db ready\n"
    page = client.get(f"/pipelines/{pipeline_id}/nodes/test").get_data(as_text=True)
    assert f'<a href="{url}" data-service="db">db</a>' in page


def test_only_kept_service_logs_are_served(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    run = record_run(bot, pipeline_id, "/test", ["tests passed"])
    base = f"/api/pipelines/{pipeline_id}/executions/{run.id}/services"

    for name in ("db", "..%2F..%2Fsecret", "DB", "x" * 80):
        assert client.get(f"{base}/{name}.log").status_code == 404, name


def test_the_worker_that_ran_an_execution_is_shown(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    run = record_run(bot, pipeline_id, "/test", ["tests passed"], finish=False)
    assert bot.store.claim_execution(run.id, "gpu-host-1#a1b2c3", 8) is Claim.CLAIMED
    bot.store.finish(run.id, State.DONE, exit_code=0)

    node = client.get(f"/api/pipelines/{pipeline_id}/nodes/test").get_json()
    page = client.get(f"/pipelines/{pipeline_id}/nodes/test").get_data(as_text=True)

    assert node["executions"][0]["worker"] == "gpu-host-1#a1b2c3"
    assert '<span class="worker" data-role="worker">gpu-host-1#a1b2c3</span>' in page
