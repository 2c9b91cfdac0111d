"""``POST /webhooks/slack/interactions``: signed clicks on the pipeline's message.

The bot is built as ``ci-bot serve`` builds it (``open_services`` + ``create_app``), with a
FakeExecutor under the real Engine; its Slack reporter posts to the fake Slack, and who
may rerun is asked of the fake GitHub (the clicker is mapped to a GitHub user who may push).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ci_bot.engine.launch import launch_local
from ci_bot.executors.base import ERROR
from ci_bot.executors.fake import FakeExecutor
from ci_bot.reporting import ReporterHub
from ci_bot.services import Services, open_services
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from ci_bot.web.app import create_app
from integrations.slack.blocks import OPEN_ACTION
from integrations.slack.reporter import SlackReporter
from tests.fakes.github import FakeGitHub
from tests.fakes.slack import FakeSlack, Message
from tests.slack.support import (
    USER_ID,
    ManualClock,
    click_payload,
    header_of,
    rerun_settings,
    signed,
    slack_settings,
)

URL = "/webhooks/slack/interactions"
CONFIG = """
[push]
slack_channel = "#ci"

[pipeline.main]
image = "alpine"
[pipeline.main.build]
run = "make"
[pipeline.main.test]
run = "make test"
"""


@dataclass
class Bot:
    services: Services
    executor: FakeExecutor
    client: FlaskClient
    hub: ReporterHub
    clock: ManualClock
    fake: FakeSlack
    pipeline_id: int = 0

    def report(self) -> None:
        self.clock.advance(1.0)
        self.hub.step()

    def message(self) -> Message:
        [message] = self.fake.top_level(self.fake.channel_id("ci"))
        return message

    def thread(self) -> list[str]:
        message = self.message()
        return [reply.text for reply in self.fake.replies(message.channel, message.ts)]

    def click(self, payload: dict[str, Any] | None = None, **options: Any) -> TestResponse:
        """Click (by default *Rerun failed* on the pipeline's message), then run the queued
        job that checks the clicker with GitHub, as a worker thread would."""
        if payload is None:
            message = self.message()
            payload = click_payload(
                self.pipeline_id, message.channel, message.ts, response_url=self.fake.response_url
            )
        body, headers = signed(payload, **options)
        response = self.client.post(URL, data=body, headers=headers)
        self.services.queue.run_pending()
        return response

    def state_of(self, path: str) -> State | None:
        return {node.path: node.state for node in self.services.store.nodes(self.pipeline_id)}[path]


@pytest.fixture
def make_bot(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_github: FakeGitHub,
    repo_factory: Callable[..., Path],
) -> Iterator[Callable[..., Bot]]:
    """``make_bot(**environ)``: a bot whose pipeline failed at /build and was told in Slack."""
    made: list[Bot] = []

    def make(**environ: str) -> Bot:
        variables = {**rerun_settings(fake_github.url), **environ}
        settings = slack_settings(tmp_path / "data", fake_slack, **variables)
        executor = FakeExecutor().expect("/build", ERROR, output="make: *** [all] Error 2\n")
        services = open_services(settings, executor)
        [reporter] = [r for r in services.reporters if isinstance(r, SlackReporter)]
        clock = ManualClock()
        reporter.clock = clock  # the test's clock: edits are not held back by real seconds
        hub = ReporterHub(services.store, services.reporters)
        bot = Bot(services, executor, create_app(services).test_client(), hub, clock, fake_slack)
        repo = repo_factory({"conducto.cfg": CONFIG})
        event = Event("push", branch="main", repo="acme/app")
        bot.pipeline_id = launch_local(services.store, settings, executor, repo, event)
        services.engine.run_until_settled(bot.pipeline_id)
        bot.report()
        made.append(bot)
        return bot

    yield make
    for bot in made:
        bot.executor.assert_all_used()
        bot.services.store.engine.dispose()


@pytest.fixture
def bot(make_bot: Callable[..., Bot]) -> Bot:
    return make_bot()


def test_a_signed_click_reruns_the_failed_node_and_the_message_goes_green(bot: Bot) -> None:
    assert header_of(bot.message()) == ":x: acme/app pipeline 1 failed"
    calls = len(bot.fake.calls)

    response = bot.click()

    assert (response.status_code, response.json) == (200, {"ok": True})
    assert len(bot.fake.calls) == calls  # the answer waited for no Slack call
    assert bot.state_of("/build") is State.PENDING
    [reset] = [e for e in bot.services.store.events(bot.pipeline_id) if e.kind == "reset"]
    assert (reset.path, reset.actor) == ("/build", f"slack:{USER_ID} (alice)")

    bot.executor.expect("/build").expect("/test")
    assert bot.services.engine.run_until_settled(bot.pipeline_id).state is State.DONE
    bot.report()
    bot.report()

    message = bot.message()
    assert header_of(message) == ":white_check_mark: acme/app pipeline 1 passed"
    assert all(block["type"] != "actions" for block in message.blocks)  # no buttons now
    thread = bot.thread()
    assert f":leftwards_arrow_with_hook: <@{USER_ID}> reset `/build`: runs again." in thread
    assert thread[-1].startswith(":white_check_mark: Finished: passed in ")


def refused(bot: Bot, response: TestResponse, status: int, words: str) -> None:
    assert response.status_code == status
    assert response.json is not None and words in response.json["error"]
    assert bot.state_of("/build") is State.ERROR  # nothing was reset


def test_a_bad_signature_is_401(bot: Bot) -> None:
    refused(bot, bot.click(secret="not-the-signing-secret"), 401, "does not match")


def test_a_replayed_old_request_is_refused(bot: Bot) -> None:
    refused(bot, bot.click(age=6 * 60), 401, "more than five minutes old")


def test_a_request_without_slacks_headers_is_401(bot: Bot) -> None:
    body = urlencode({"payload": "{}"})
    response = bot.client.post(URL, data=body, content_type="application/x-www-form-urlencoded")
    refused(bot, response, 401, "missing X-Slack-Request-Timestamp")


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"value": "999"}, 404, "there is no pipeline 999"),
        ({"value": "1; drop table"}, 400, "is not a pipeline"),
        ({"value": "9" * 40}, 400, "is not a pipeline"),
        ({"message_ts": "1700000000.000001"}, 403, "not on pipeline 1's Slack message"),
        ({"channel": "C0ELSEWHERE1"}, 403, "not on pipeline 1's Slack message"),
    ],
)
def test_a_click_that_does_not_fit_a_pipelines_message_is_refused(
    bot: Bot, change: dict[str, str], status: int, words: str
) -> None:
    message = bot.message()
    where = {"channel": message.channel, "message_ts": message.ts, "value": "1", **change}
    payload = click_payload(where["value"], where["channel"], where["message_ts"])
    refused(bot, bot.click(payload), status, words)


def test_a_signed_body_that_is_not_slacks_is_a_400(bot: Bot) -> None:
    body, headers = signed(body=b"payload=%7Bnot+json")
    refused(bot, bot.client.post(URL, data=body, headers=headers), 400, "JSON `payload`")


def test_the_same_signed_request_twice_acts_once(bot: Bot) -> None:
    message = bot.message()
    body, headers = signed(click_payload(bot.pipeline_id, message.channel, message.ts))

    first = bot.client.post(URL, data=body, headers=headers)
    second = bot.client.post(URL, data=body, headers=headers)

    assert (first.json, second.json) == ({"ok": True}, {"ok": True, "duplicate": True})
    bot.services.queue.run_pending()
    resets = [e for e in bot.services.store.events(bot.pipeline_id) if e.kind == "reset"]
    assert len(resets) == 1
    bot.executor.expect("/build").expect("/test")
    bot.services.engine.run_until_settled(bot.pipeline_id)


def test_open_and_other_interactions_are_answered_and_change_nothing(bot: Bot) -> None:
    message = bot.message()
    opened = click_payload(bot.pipeline_id, message.channel, message.ts, action_id=OPEN_ACTION)
    assert bot.click(opened).status_code == 200
    assert bot.click({"type": "view_closed", "view": {}}).status_code == 200
    assert bot.state_of("/build") is State.ERROR
    deliveries = bot.services.store.deliveries_with_status("handled")
    assert [d.event for d in deliveries] == ["block_actions", "view_closed"]


def test_without_a_signing_secret_the_endpoint_is_off_and_no_rerun_button_shows(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot(CI_BOT_SLACK_SIGNING_SECRET="")
    response = bot.click()
    assert response.status_code == 404
    assert response.json == {"error": "Slack interactions are off: set CI_BOT_SLACK_SIGNING_SECRET"}
    buttons = next(b for b in bot.message().blocks if b["type"] == "actions")["elements"]
    assert [button["text"]["text"] for button in buttons] == ["Open"]


def test_a_get_is_not_allowed(bot: Bot) -> None:
    response = bot.client.get(URL)
    assert response.status_code == 405
    assert json.loads(response.data)["error"]


def test_without_a_token_the_bot_has_no_slack_reporter(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path / "data", fake_slack, CI_BOT_SLACK_TOKEN="")
    services = open_services(settings, FakeExecutor())
    assert not any(isinstance(r, SlackReporter) for r in services.reporters)
    services.store.engine.dispose()
