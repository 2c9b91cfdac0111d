"""Property-based fuzzing of ``POST /webhooks/slack/interactions``: whatever the body,
headers and signature, the answer is never a 500, and the rerun job never raises or
logs a traceback.

Requests are signed with the right secret and a fresh timestamp (so they reach the
parser, the checks against the pipeline's message, and the rerun job), or signed
wrongly, stale, or not at all.  Payloads are shaped like Slack's ``block_actions``
with each value sometimes replaced by junk; clicks aim at the real pipeline's
message often enough to reach the GitHub permission check (the fake GitHub) and
the reply to the clicker (the fake Slack, which fails the test on any call that
breaks Slack's API).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.slack.blocks import OPEN_ACTION, RERUN_ACTION
from integrations.slack.verify import signature
from tests.slack.support import SIGNING_SECRET, USER_ID
from tests.slack.test_interactions import URL, Bot, make_bot

__all__ = ["make_bot"]  # the fixture, used by name below

SIGNED_EXAMPLES = 250
UNSIGNED_EXAMPLES = 150
ANSWERS = {200, 400, 401, 403, 404, 413}
TRIGGERS = itertools.count(1)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

JUNK = st.one_of(
    st.text(max_size=30),  # controls included
    st.just("\ud800"),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
HEADER_TEXT = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n\x00"), max_size=60)


@pytest.fixture
def bot(make_bot: Callable[..., Bot]) -> Bot:
    return make_bot()


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value Slack would send, seven times in eight; else junk.  (Not ``one_of(good,
    good, …)``: hypothesis merges equal branches, and flattens JUNK's seven into it.)"""
    return st.sampled_from([True] * 7 + [False]).flatmap(lambda ok: good if ok else JUNK)


@st.composite
def interaction(draw: st.DrawFn, bot: Bot) -> dict[str, Any]:
    """A ``block_actions`` payload.  Two times in three it is a *Rerun failed* click on
    the pipeline's own message (so the rerun job runs: who clicked, GitHub's answer,
    the reply); otherwise any of its values may be another one, or junk."""
    message = bot.message()
    aimed = draw(st.sampled_from([True, True, False]))

    def value(good: Any, *others: Any) -> Any:
        if aimed:
            return good
        return draw(mostly(st.sampled_from([good, *others])))

    action = {
        "type": "button",
        "action_id": value(RERUN_ACTION, OPEN_ACTION, "something-else"),
        "value": value(str(bot.pipeline_id), "999", "1; drop", "9" * 30),
    }
    return {
        "trigger_id": f"fuzz.{next(TRIGGERS)}",  # as Slack's, unique: each click is new
        "type": value("block_actions", "view_submission", "shortcut"),
        "user": {
            "id": draw(mostly(st.sampled_from([USER_ID, "U0STRANGER1", "W0ENTERPRISE"]))),
            "username": draw(mostly(st.text(max_size=12))),
        },
        "container": {
            "message_ts": value(message.ts, "1.000001"),
            "channel_id": value(message.channel, "C0ELSEWHERE1"),
        },
        "response_url": draw(
            mostly(st.sampled_from([bot.fake.response_url, "http://10.0.0.1/x", ""]))
        ),
        "actions": value([action], [action, action], []),
    }


def post(bot: Bot, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    response = bot.client.post(URL, data=body, headers=headers)
    return response.status_code, response.get_data(as_text=True)


def jobs_ran_cleanly(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot.services.queue.run_pending()
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


@settings(FUZZ, max_examples=SIGNED_EXAMPLES)
@given(data=st.data(), form_field=st.sampled_from(["payload"] * 9 + ["other"]))
def test_signed_interactions_never_get_a_500_nor_crash_the_rerun_job(
    bot: Bot, caplog: pytest.LogCaptureFixture, data: st.DataObject, form_field: str
) -> None:
    caplog.clear()
    payload = data.draw(interaction(bot))
    body = urlencode({form_field: json.dumps(payload)}).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(SIGNING_SECRET, timestamp, body),
    }
    status, text = post(bot, body, headers)
    assert status in ANSWERS and status != 401, text
    jobs_ran_cleanly(bot, caplog)


@settings(FUZZ, max_examples=UNSIGNED_EXAMPLES)
@given(
    body=st.binary(max_size=1500),
    timestamp=st.one_of(st.none(), HEADER_TEXT, st.integers(0, 2**40).map(str)),
    given_signature=st.one_of(st.none(), HEADER_TEXT),
    sign_it=st.booleans(),
    content_type=st.one_of(st.just("application/x-www-form-urlencoded"), HEADER_TEXT),
)
def test_any_body_and_headers_never_get_a_500(
    bot: Bot,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    timestamp: str | None,
    given_signature: str | None,
    sign_it: bool,
    content_type: str,
) -> None:
    caplog.clear()
    headers = {"Content-Type": content_type}
    if sign_it:
        timestamp = str(int(time.time()))
        given_signature = signature(SIGNING_SECRET, timestamp, body)
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if given_signature is not None:
        headers["X-Slack-Signature"] = given_signature
    status, text = post(bot, body, headers)
    assert status in ANSWERS, text
    if not sign_it:
        assert status == 401
    jobs_ran_cleanly(bot, caplog)


def test_what_the_fuzzing_found_a_lone_surrogate_in_a_signed_payload_is_a_400(bot: Bot) -> None:
    """It was a 500: the payload's type (or the clicker's name) went to the database."""
    for payload in ({"type": "\ud800"}, {"type": "block_actions", "user": {"id": "\ud800"}}):
        body = urlencode({"payload": json.dumps(payload)}).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature(SIGNING_SECRET, timestamp, body),
        }
        status, text = post(bot, body, headers)
        assert status == 400 and "not valid Unicode" in text
