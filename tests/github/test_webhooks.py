"""POST /webhooks/github: the signature first, then parsing, dedupe, store, enqueue, 202.

Nothing slow happens in the request: after a 202 the delivery is stored as
received and no git mirror exists until a queue worker runs the job.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.github.conftest import MakeBot
from tests.github.support import official, sign

PR_OPENED = "pull_request/opened.payload.json"


def headers(body: bytes, event: str = "pull_request", delivery: str = "d-1") -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body),
    }


def test_a_signed_pull_request_is_stored_and_queued_without_any_inline_work(
    make_bot: MakeBot, fixtures_dir: Path
) -> None:
    bot = make_bot(mode="none")
    response = bot.deliver("pull_request", official(fixtures_dir, PR_OPENED), delivery="d-42")
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"delivery": "d-42", "queued": "PullRequest"}
    stored = bot.store.delivery("d-42")
    assert stored.status == "received" and stored.event == "pull_request"
    assert json.loads(stored.payload)["pull_request"]["number"] == 2
    # No git: the mirror is made by the worker, not by the request.
    assert not (bot.services.settings.data_dir / "mirrors").exists()
    assert bot.store.pipelines() == []


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        (None, "missing"),
        ("sha256=" + "0" * 64, "does not match"),
        ("sha1=abc", "missing"),
        (sign(b"another body"), "does not match"),
        (sign(b"{}", secret="not-the-secret"), "does not match"),
    ],
)
def test_a_missing_or_wrong_signature_is_401_and_nothing_is_stored(
    make_bot: MakeBot, fixtures_dir: Path, signature: str | None, why: str
) -> None:
    bot = make_bot(mode="none")
    body = json.dumps(official(fixtures_dir, PR_OPENED)).encode()
    sent = headers(body)
    if signature is None:
        del sent["X-Hub-Signature-256"]
    else:
        sent["X-Hub-Signature-256"] = signature
    response = bot.client.post(
        "/webhooks/github", data=body, headers=sent, content_type="application/json"
    )
    assert response.status_code == 401
    assert why in response.get_json()["error"]
    assert bot.store.unhandled_deliveries() == []


def test_the_signature_is_checked_before_the_body_is_parsed(make_bot: MakeBot) -> None:
    bot = make_bot(mode="none")
    body = b"{not json"
    sent = headers(body)
    sent["X-Hub-Signature-256"] = sign(b"something else")
    response = bot.client.post(
        "/webhooks/github", data=body, headers=sent, content_type="application/json"
    )
    assert response.status_code == 401  # not 400: an unsigned body is never even parsed


def test_without_a_secret_deliveries_are_refused_unless_explicitly_allowed(
    make_bot: MakeBot, fixtures_dir: Path
) -> None:
    payload = official(fixtures_dir, PR_OPENED)
    refused = make_bot(mode="none", github_webhook_secret="").deliver("pull_request", payload)
    assert refused.status_code == 401 and "no webhook secret" in refused.get_json()["error"]
    allowed = make_bot(mode="none", github_webhook_secret="", allow_unsigned_webhooks=True)
    body = json.dumps(payload).encode()
    response = allowed.client.post(
        "/webhooks/github",
        data=body,
        headers={"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "local-1"},
        content_type="application/json",
    )
    assert response.status_code == 202


def test_form_encoded_deliveries_are_accepted(make_bot: MakeBot, fixtures_dir: Path) -> None:
    bot = make_bot(mode="none")
    response = bot.deliver(
        "pull_request", official(fixtures_dir, PR_OPENED), form=True, delivery="f-1"
    )
    assert response.status_code == 202
    assert json.loads(bot.store.delivery("f-1").payload)["action"] == "opened"


def test_the_same_delivery_twice_is_answered_200_and_makes_one_pipeline(
    make_bot: MakeBot, fixtures_dir: Path, tmp_path: Path
) -> None:
    from tests.github.test_official_payloads import hello_world_remote

    url, shas = hello_world_remote(tmp_path)
    from tests.github.support import retarget

    payload = retarget(official(fixtures_dir, PR_OPENED), url, shas["pr"])
    bot = make_bot(mode="none")
    first = bot.deliver("pull_request", payload, delivery="same")
    again = bot.deliver("pull_request", payload, delivery="same")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.get_json() == {"delivery": "same", "duplicate": True}
    bot.work()
    assert len(bot.store.pipelines()) == 1
    assert bot.store.delivery("same").status == "handled"


@pytest.mark.parametrize(
    ("body", "content_type", "event", "message"),
    [
        (b"{not json", "application/json", "pull_request", "not valid JSON"),
        (b"[1, 2]", "application/json", "pull_request", "must be a JSON object"),
        (b"\xff\xfe", "application/json", "pull_request", "not UTF-8"),
        (b"[" * 100000 + b"]" * 100000, "application/json", "pull_request", "not valid JSON"),
        (b"payload=", "application/x-www-form-urlencoded", "pull_request", "not valid JSON"),
        (b"other=1", "application/x-www-form-urlencoded", "pull_request", "payload= field"),
        (b"{}", "text/plain", "pull_request", "unsupported content type"),
        (b"{}", "application/json", "star", "unsupported event 'star'"),
        (b"{}", "application/json", "pull_request", "without action"),
        (b'{"action": "opened"}', "application/json", "pull_request", "without repository"),
        (b'{"ref": "refs/heads/x", "after": 7}', "application/json", "push", "wrong type"),
    ],
)
def test_bad_deliveries_get_400_with_a_message(
    make_bot: MakeBot, body: bytes, content_type: str, event: str, message: str
) -> None:
    bot = make_bot(mode="none")
    response = bot.client.post(
        "/webhooks/github", data=body, headers=headers(body, event), content_type=content_type
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert message in response.get_json()["error"]


def test_missing_delivery_headers_are_400(make_bot: MakeBot, fixtures_dir: Path) -> None:
    bot = make_bot(mode="none")
    body = json.dumps(official(fixtures_dir, PR_OPENED)).encode()
    sent = headers(body)
    del sent["X-GitHub-Delivery"]
    response = bot.client.post(
        "/webhooks/github", data=body, headers=sent, content_type="application/json"
    )
    assert response.status_code == 400 and "X-GitHub-Delivery" in response.get_json()["error"]


def test_a_body_over_26_mb_is_refused(make_bot: MakeBot) -> None:
    bot = make_bot(mode="none")
    body = b" " * (26 * 1024 * 1024 + 1)
    response = bot.client.post(
        "/webhooks/github", data=body, headers=headers(b""), content_type="application/json"
    )
    assert response.status_code == 413
    assert bot.store.unhandled_deliveries() == []


def test_ping_is_answered_200(make_bot: MakeBot, fixtures_dir: Path) -> None:
    bot = make_bot(mode="none")
    response = bot.deliver("ping", official(fixtures_dir, "ping/payload.json"))
    assert response.status_code == 200 and response.get_json()["ignored"] == "pong"


def test_deliveries_left_unhandled_are_resubmitted_when_the_bot_starts(
    make_bot: MakeBot, fixtures_dir: Path
) -> None:
    bot = make_bot(mode="none")
    bot.deliver(
        "check_suite",
        official(fixtures_dir, "check_suite/rerequested.payload.json"),
        delivery="left",
    )
    assert [d.id for d in bot.store.unhandled_deliveries()] == ["left"]
    # A new process on the same database: its queue is empty, the delivery is not.
    restarted = make_bot(mode="none")
    restarted.services.start()
    restarted.services.queue.join()
    assert restarted.store.delivery("left").status == "handled"
    assert "reset 0 failed node(s)" in restarted.store.delivery("left").outcome


def test_the_request_does_no_git_even_for_a_repository_that_cannot_be_fetched(
    make_bot: MakeBot, fixtures_dir: Path
) -> None:
    """The answer never waits on the repository: its size, or even its existence."""
    bot = make_bot(mode="none")
    payload = official(fixtures_dir, PR_OPENED)
    payload["repository"]["clone_url"] = "file:///nonexistent/repository.git"
    assert bot.deliver("pull_request", payload, delivery="far").status_code == 202
    bot.work()  # the worker finds out, and says so
    failed = bot.store.delivery("far")
    assert failed.status == "failed" and "could not fetch Codertocat/Hello-World" in failed.outcome


def test_a_failed_delivery_can_be_redelivered_a_handled_one_cannot(
    make_bot: MakeBot, fixtures_dir: Path, tmp_path: Path
) -> None:
    from tests.github.support import retarget
    from tests.github.test_official_payloads import hello_world_remote

    url, shas = hello_world_remote(tmp_path)
    payload = retarget(official(fixtures_dir, PR_OPENED), url, shas["pr"])
    bare = tmp_path / "remote.git"
    bare.rename(tmp_path / "away.git")  # the repository cannot be reached for a while
    bot = make_bot(mode="none")
    bot.deliver("pull_request", payload, delivery="flaky")
    bot.work()
    assert bot.store.delivery("flaky").status == "failed"
    (tmp_path / "away.git").rename(bare)
    assert bot.deliver("pull_request", payload, delivery="flaky").status_code == 202
    bot.work()
    assert bot.store.delivery("flaky").status == "handled"
    assert bot.deliver("pull_request", payload, delivery="flaky").status_code == 200
    bot.work()
    assert len(bot.store.pipelines()) == 1


def test_https_clones_carry_the_installation_token_and_never_show_it(
    make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path
) -> None:
    bot = make_bot(fake_github)
    payload = official(fixtures_dir, PR_OPENED)
    payload["repository"]["clone_url"] = "https://127.0.0.1:9/Codertocat/Hello-World.git"
    bot.deliver("pull_request", payload, delivery="https")
    bot.work()
    failed = bot.store.delivery("https")
    assert fake_github.tokens_issued == [1]  # the clone asked for installation 1's token
    assert failed.status == "failed" and "x-access-token:***@127.0.0.1:9" in failed.outcome
    assert not any(token in failed.outcome for token in fake_github.tokens)
