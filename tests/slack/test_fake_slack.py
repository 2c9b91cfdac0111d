"""The fake Slack itself: it must refuse what Slack's description refuses, or the other
tests would prove nothing.  Raw HTTP requests here, not ci-bot's client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fakes.slack import FakeSlack, SlackSpec
from tests.slack.support import TOKEN

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}


@pytest.fixture
def fake(slack_spec: SlackSpec) -> Iterator[FakeSlack]:
    """A fake whose problems the test reads itself (they are the point here)."""
    server = FakeSlack(slack_spec, TOKEN, channels=("ci",)).start()
    yield server
    server.stop()


def call(
    fake: FakeSlack,
    method: str,
    params: dict[str, Any],
    *,
    form: bool = False,
    token: str | None = TOKEN,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    if form:
        data = urlencode(params).encode()
        kind = "application/x-www-form-urlencoded"
    else:
        data, kind = json.dumps(params).encode(), "application/json; charset=utf-8"
    headers = {"Content-Type": kind}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{fake.url}/{method}", data, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read()), dict(error.headers)


def test_a_good_post_then_update_then_reply_is_answered_as_slack_does(fake: FakeSlack) -> None:
    status, posted, _ = call(fake, "chat.postMessage", {"channel": "#ci", "text": "hi"})
    assert status == 200 and posted["ok"] is True
    assert posted["channel"] == fake.channel_id("ci") and posted["message"]["text"] == "hi"
    ts = posted["ts"]
    form = {
        "channel": posted["channel"],
        "ts": ts,
        "text": "edited",
        "blocks": json.dumps([SECTION]),
    }
    assert call(fake, "chat.update", form, form=True)[1]["ok"] is True
    reply = {"channel": posted["channel"], "text": "in the thread", "thread_ts": ts}
    assert call(fake, "chat.postMessage", reply)[1]["message"]["thread_ts"] == ts

    [message] = fake.top_level(fake.channel_id("ci"))
    assert message.versions == [("hi", None), ("edited", [SECTION])]
    assert [m.text for m in fake.replies(message.channel, ts)] == ["in the thread"]
    assert fake.problems == []


@pytest.mark.parametrize(
    ("method", "params", "problem"),
    [
        ("chat.delete", {"channel": "#ci", "ts": "1.2"}, "unexpected call"),
        ("chat.postMessage", {"text": "no channel"}, "required parameter 'channel'"),
        ("chat.postMessage", {"channel": "#ci", "text": "x", "colour": "red"}, "unknown"),
        ("chat.postMessage", {"channel": "#ci", "text": 5}, "must be a string"),
        ("chat.postMessage", {"channel": "#ci", "text": "x", "mrkdwn": "maybe"}, "boolean"),
        ("chat.postMessage", {"channel": "#ci", "blocks": {"type": "section"}}, "JSON array"),
        (
            "chat.postMessage",
            {"channel": "#ci", "text": "x", "blocks": [{"text": "no type"}]},
            "'type' is a required property",
        ),
        (
            "chat.postMessage",
            {
                "channel": "#ci",
                "text": "x",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}],
            },
            "cannot exceed 3000 characters",
        ),
        ("chat.postMessage", {"channel": "#ci", "text": "x", "thread_ts": "1.000001"}, "reply"),
        ("chat.postMessage", {"channel": "#ci", "text": "x" * 40_001}, "40001 characters"),
    ],
)
def test_what_breaks_slacks_description_is_a_problem(
    fake: FakeSlack, method: str, params: dict[str, Any], problem: str
) -> None:
    call(fake, method, params)
    assert any(problem in found for found in fake.problems), fake.problems


def test_a_wrong_or_missing_token_is_refused_like_slack(fake: FakeSlack) -> None:
    assert call(fake, "chat.postMessage", {"channel": "#ci", "text": "x"}, token="xoxb-other")[
        1
    ] == {"ok": False, "error": "invalid_auth"}
    assert call(fake, "chat.postMessage", {"channel": "#ci", "text": "x"}, token=None)[1] == {
        "ok": False,
        "error": "not_authed",
    }
    assert len(fake.problems) == 2


def test_slacks_own_refusals_are_answers_not_problems(fake: FakeSlack) -> None:
    assert call(fake, "chat.postMessage", {"channel": "#nowhere", "text": "x"})[1] == {
        "ok": False,
        "error": "channel_not_found",
    }
    update = {"channel": "#ci", "ts": "1714564800.000001", "text": "x"}
    assert call(fake, "chat.update", update)[1]["error"] == "channel_not_found"  # needs the id
    update["channel"] = fake.channel_id("ci")
    assert call(fake, "chat.update", update)[1]["error"] == "message_not_found"
    assert fake.problems == []


def test_scripted_bad_days_429_with_retry_after_then_500_then_normal(fake: FakeSlack) -> None:
    fake.fail_next(status=429, retry_after=7)
    fake.fail_next(method="chat.postMessage", status=200, error="not_in_channel")
    params = {"channel": "#ci", "text": "x"}

    status, body, headers = call(fake, "chat.postMessage", params)
    assert (status, body, headers["Retry-After"]) == (
        429,
        {"ok": False, "error": "rate_limited"},
        "7",
    )
    assert call(fake, "chat.postMessage", params)[1] == {"ok": False, "error": "not_in_channel"}
    assert call(fake, "chat.postMessage", params)[1]["ok"] is True
    assert fake.problems == []
