"""What daily use needs from the JSON API: durations that count running time (the wall
time beside it), the failed nodes of each listed pipeline, a log numbered and readable
whole in chunks that end on line breaks, and *Rerun failed* after a cancel."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from ci_bot.store.tables import ExecutionRow, PipelineRow
from ci_bot.store.transactions import utcnow
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from tests.pipelines import create_pipeline
from tests.web.conftest import Bot, csrf_of, record_run

SHOP = """
[pipeline.main]
image = "busybox"
doc = "The shop's **whole** pipeline."
[pipeline.main.lint]
run = "ruff check ."
[pipeline.main.test]
run = "pytest"
[pipeline.main.deploy]
run = "./deploy.sh"
"""


def shop(bot: Bot, branch: str = "main") -> int:
    return create_pipeline(bot.store, SHOP, Event("push", branch=branch, repo="acme/shop"))


def set_times(bot: Bot, pipeline_id: int, created_minutes_ago: int, run_seconds: int) -> None:
    """The pipeline was created long ago, then its executions ran for ``run_seconds``
    (a reset pipeline, or one that waited in the queue)."""
    now = utcnow()
    with Session(bot.store.engine) as session, session.begin():
        session.execute(
            update(PipelineRow)
            .where(PipelineRow.id == pipeline_id)
            .values(created_at=now - timedelta(minutes=created_minutes_ago), finished_at=now)
        )
        session.execute(
            update(ExecutionRow)
            .where(ExecutionRow.pipeline_id == pipeline_id)
            .values(started_at=now - timedelta(seconds=run_seconds), ended_at=now)
        )


def test_durations_count_running_time_with_the_wall_time_beside_it(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = shop(bot)
    for path in ("/lint", "/test", "/deploy"):
        record_run(bot, pipeline_id, path, ["ok"])
    set_times(bot, pipeline_id, created_minutes_ago=11, run_seconds=8)

    [listed] = client.get("/api/pipelines").get_json()["pipelines"]
    assert listed["duration_seconds"] == 8.0
    assert 655 < listed["wall_seconds"] < 665
    assert listed["run_started_at"].endswith("Z") and listed["run_ended_at"].endswith("Z")


def test_a_pipeline_that_never_ran_has_no_running_time(bot: Bot, client: FlaskClient) -> None:
    shop(bot)
    [listed] = client.get("/api/pipelines").get_json()["pipelines"]
    assert listed["duration_seconds"] is None and listed["run_started_at"] is None
    assert listed["wall_seconds"] >= 0


def test_the_list_names_the_failed_nodes(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    record_run(bot, pipeline_id, "/lint", ["ok"])
    record_run(bot, pipeline_id, "/test", ["boom"], state=State.ERROR, message="exit 3")
    [listed] = client.get("/api/pipelines").get_json()["pipelines"]
    assert listed["failed_nodes"] == ["/test"]


def test_a_log_is_numbered_and_read_whole_in_chunks_of_whole_lines(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = shop(bot)
    lines = [f"line {n} " + "x" * (n % 300) for n in range(1, 20_001)]
    run = record_run(bot, pipeline_id, "/test", lines)
    url = f"/api/pipelines/{pipeline_id}/executions/{run.id}/log"

    tail = client.get(url).get_json()
    assert tail["truncated"] is True
    first = int(tail["lines"][0].split()[2])
    assert tail["first_line"] == first, "the tail says which line it starts with"

    read, offset = [], 0
    while offset < tail["start"]:
        limit = min(1_000_000, tail["start"] - offset)
        chunk = client.get(f"{url}?offset={offset}&limit={limit}").get_json()
        assert chunk["end"] > offset
        read += chunk["lines"]
        offset = chunk["end"]
    assert offset == tail["start"]
    whole = read + tail["lines"]
    assert [line.split(" ", 1)[1] for line in whole] == lines
    assert client.get(f"{url}?offset=0&limit=0").status_code == 400
    big = client.get(f"{url}?offset=0&limit=999999999").get_json()
    assert big["end"] - big["start"] <= 4 * 1024 * 1024


def test_a_log_with_one_line_longer_than_a_chunk_still_moves_on(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = shop(bot)
    run = record_run(bot, pipeline_id, "/test", ["y" * 5000, "after"])
    url = f"/api/pipelines/{pipeline_id}/executions/{run.id}/log"
    chunk = client.get(f"{url}?offset=0&limit=1000").get_json()
    assert chunk["end"] == 1000, "a line longer than the chunk comes in pieces"
    assert client.get(url).get_json()["first_line"] == 1


def test_rerun_failed_after_a_cancel_picks_up_where_it_stopped(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = shop(bot)
    record_run(bot, pipeline_id, "/lint", ["ok"])
    record_run(bot, pipeline_id, "/test", ["running"], finish=False)
    bot.store.cancel(pipeline_id, actor="alice")
    [running] = bot.store.executions(pipeline_id, "/test")
    bot.store.finish(running.id, State.CANCELLED, message="killed")
    headers = {"X-CSRF-Token": csrf_of(client)}
    answer = client.post(f"/api/pipelines/{pipeline_id}/rerun-failed", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    assert sorted(answer.get_json()["paths"]) == ["/deploy", "/test"]
    states = bot.store.exec_states(pipeline_id)
    assert states == {"/lint": State.DONE, "/test": State.PENDING, "/deploy": State.PENDING}
    assert bot.store.pipeline(pipeline_id).cancel_requested is False
