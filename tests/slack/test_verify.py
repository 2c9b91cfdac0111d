"""Slack's request signature and the interaction payloads, checked before anything is done."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from ci_bot.errors import WebhookError
from integrations.slack.actions import parse
from integrations.slack.verify import signature, verify
from tests.slack.support import SIGNING_SECRET, click_payload, signed

BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


def test_slacks_documented_example_signature() -> None:
    # The worked example of api.slack.com/authentication/verifying-requests-from-slack.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert signature("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_a_fresh_request_signed_with_the_secret_passes() -> None:
    body, headers = signed(body=BODY)
    verify(
        SIGNING_SECRET,
        body,
        headers["X-Slack-Request-Timestamp"],
        headers["X-Slack-Signature"],
        time.time(),
    )


@pytest.mark.parametrize(
    ("secret", "age", "tamper", "words"),
    [
        ("another-secret", 0, False, "does not match"),
        (SIGNING_SECRET, 0, True, "does not match"),
        (SIGNING_SECRET, 301, False, "more than five minutes old"),
        (SIGNING_SECRET, -301, False, "from the future"),
    ],
    ids=["wrong secret", "body changed", "replayed", "from the future"],
)
def test_a_bad_or_old_signature_is_refused_with_401(
    secret: str, age: int, tamper: bool, words: str
) -> None:
    body, headers = signed(body=BODY, secret=secret, age=age)
    with pytest.raises(WebhookError, match=words) as caught:
        verify(
            SIGNING_SECRET,
            body + (b"x" if tamper else b""),
            headers["X-Slack-Request-Timestamp"],
            headers["X-Slack-Signature"],
            time.time(),
        )
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("timestamp", "given"),
    [(None, "v0=abc"), ("123", None), ("soon", "v0=abc"), (str(int(time.time())), "v0=é☃")],
)
def test_missing_or_garbled_headers_are_refused_not_crashed_on(
    timestamp: str | None, given: str | None
) -> None:
    with pytest.raises(WebhookError) as caught:
        verify(SIGNING_SECRET, BODY, timestamp, given, time.time())
    assert caught.value.status == 401


def test_a_click_is_read_from_slacks_block_actions_payload() -> None:
    body = urlencode({"payload": json.dumps(click_payload(7, "C0CI000001", "1714564800.000100"))})

    kind, clicks = parse(body.encode())

    assert kind == "block_actions"
    [click] = clicks
    assert (click.action_id, click.value, click.channel_id, click.message_ts) == (
        "rerun_failed",
        "7",
        "C0CI000001",
        "1714564800.000100",
    )
    assert click.actor == "slack:U0ALICE123 (alice)"


def test_other_interaction_types_have_no_clicks() -> None:
    body = urlencode({"payload": json.dumps({"type": "view_submission", "view": {}})})
    assert parse(body.encode()) == ("view_submission", [])


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"payload=not-json",
        b"nothing=here",
        b"\xff\xfe",
        urlencode({"payload": "[1, 2]"}).encode(),
        urlencode({"payload": json.dumps({"type": 3})}).encode(),
        urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "x"}})}).encode(),
        urlencode(
            {"payload": json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": 1})}
        ).encode(),
    ],
)
def test_a_payload_slack_would_not_send_is_a_400_with_a_sentence(body: bytes) -> None:
    with pytest.raises(WebhookError) as caught:
        parse(body)
    assert caught.value.status == 400
    assert str(caught.value)
