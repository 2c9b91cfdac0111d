"""Wrong tokens are throttled per client address: after a few, 429 with Retry-After,
logged once, never the token; other addresses are not held back.

The defect this pins down: 2 000 wrong bearer tokens at 245/s were all plain 401s,
none logged.  No assertion here depends on how fast the machine is: the throttle's
clock is the test's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from ci_bot.executors.fake import FakeExecutor
from ci_bot.web import throttle as throttle_module
from ci_bot.web.throttle import LIMIT, WINDOW_SECONDS, FailureThrottle
from tests.web.conftest import TOKEN, Bot, make_bot

ATTACKER = {"REMOTE_ADDR": "198.51.100.66"}
SOMEONE_ELSE = {"REMOTE_ADDR": "203.0.113.5"}


class Clock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(tmp_path: Any, clock: Clock) -> Iterator[Bot]:
    made = make_bot(tmp_path, FakeExecutor())
    made.app.extensions["ci_bot_ui"].throttle = FailureThrottle(clock=clock)
    yield made
    made.store.engine.dispose()


def bearer(client: FlaskClient, token: str, where: dict[str, str]) -> Any:
    return client.get(
        "/api/pipelines", headers={"Authorization": f"Bearer {token}"}, environ_base=where
    )


def test_a_thousand_wrong_bearer_tokens_are_throttled_and_logged_without_the_token(
    bot: Bot, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    client = bot.app.test_client()
    caplog.set_level(logging.WARNING, logger=throttle_module.__name__)
    statuses = []
    for number in range(1000):
        response = bearer(client, f"guess-{number:04d}-wrong-token", ATTACKER)
        statuses.append(response.status_code)
        clock.now += 0.004  # 250 a second, as reported
    assert statuses[:LIMIT] == [401] * LIMIT
    assert set(statuses[LIMIT:]) == {429}
    refused = bearer(client, "one-more-wrong-token", ATTACKER)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW_SECONDS
    assert "too many wrong tokens" in refused.get_json()["error"]
    # one line per wrong token up to the limit, one for the pause, never a token
    assert len(caplog.records) == LIMIT
    assert "198.51.100.66" in caplog.records[-1].getMessage()
    assert not any("guess-" in record.getMessage() for record in caplog.records)


def test_the_right_token_from_another_address_still_works(bot: Bot) -> None:
    client = bot.app.test_client()
    for number in range(1000):
        bearer(client, f"wrong-{number}", ATTACKER)
    assert bearer(client, TOKEN, SOMEONE_ELSE).status_code == 200


def test_the_right_token_from_the_paused_address_waits_for_the_window_to_end(
    bot: Bot, clock: Clock
) -> None:
    client = bot.app.test_client()
    for number in range(LIMIT):
        bearer(client, f"wrong-{number}", ATTACKER)
    paused = bearer(client, TOKEN, ATTACKER)
    assert paused.status_code == 429  # a right guess must look like any other during a pause
    clock.now += int(paused.headers["Retry-After"])
    assert bearer(client, TOKEN, ATTACKER).status_code == 200


def sign_in_form(client: FlaskClient, token: str, where: dict[str, str]) -> Any:
    page = client.get("/sign-in", environ_base=where).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    data = {"csrf_token": csrf.group(1), "token": token, "next": "/pipelines"}
    return client.post("/sign-in", data=data, environ_base=where)


def test_the_sign_in_form_is_throttled_too(bot: Bot) -> None:
    client = bot.app.test_client()
    answers = [sign_in_form(client, f"wrong-{n}", ATTACKER).status_code for n in range(LIMIT + 5)]
    assert answers == [401] * LIMIT + [429] * 5
    paused = sign_in_form(client, TOKEN, ATTACKER)
    assert paused.status_code == 429 and int(paused.headers["Retry-After"]) >= 1
    assert "Too many wrong tokens" in paused.get_data(as_text=True)
    assert sign_in_form(bot.app.test_client(), TOKEN, SOMEONE_ELSE).status_code == 302


def test_forms_and_bearer_tokens_share_one_budget_per_address(bot: Bot) -> None:
    client = bot.app.test_client()
    for number in range(LIMIT // 2):
        sign_in_form(client, f"wrong-{number}", ATTACKER)
    for number in range(LIMIT - LIMIT // 2):
        bearer(client, f"wrong-{number}", ATTACKER)
    assert bearer(client, TOKEN, ATTACKER).status_code == 429


def test_a_spray_from_many_addresses_keeps_the_table_bounded(clock: Clock) -> None:
    throttle = FailureThrottle(clock=clock)
    for number in range(throttle_module.MAX_ADDRESSES + 500):
        throttle.failed(f"10.{number // 65536}.{number // 256 % 256}.{number % 256}", "test")
    assert len(throttle._windows) <= throttle_module.MAX_ADDRESSES


def test_an_empty_token_is_not_counted_as_a_guess(bot: Bot) -> None:
    client = bot.app.test_client()
    for _ in range(LIMIT * 2):
        assert bearer(client, "", ATTACKER).status_code == 401
    assert bearer(client, TOKEN, ATTACKER).status_code == 200
