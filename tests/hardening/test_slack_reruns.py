"""A Slack click reruns only for a Slack user mapped to a GitHub user whom GitHub lets
push to the repository; anyone else is told why, in a reply only they see, and nothing
is reset.

The defect this pins down: anyone who could see the pipeline's Slack message could
rerun it.  The bot is the Slack tests' (the fake Slack and the fake GitHub).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ci_bot.tree.states import State
from integrations.slack.respond import allowed_response_url
from tests.slack.support import GITHUB_LOGIN, USER_ID, click_payload
from tests.slack.test_interactions import Bot, make_bot

__all__ = ["make_bot"]  # the fixture, used by name below

MakeBot = Callable[..., Bot]


def rerun_click(bot: Bot, **options: Any) -> dict[str, Any]:
    message = bot.message()
    url = options.pop("response_url", bot.fake.response_url)
    return click_payload(bot.pipeline_id, message.channel, message.ts, response_url=url, **options)


def nothing_reset(bot: Bot) -> bool:
    events = bot.services.store.events(bot.pipeline_id)
    return bot.state_of("/build") is State.ERROR and not [e for e in events if e.kind == "reset"]


def test_a_mapped_writer_reruns(make_bot: MakeBot) -> None:
    bot = make_bot()
    assert bot.click(rerun_click(bot)).status_code == 200
    assert bot.state_of("/build") is State.PENDING
    assert bot.fake.responses == []  # nothing to explain
    [delivery] = bot.services.store.deliveries_with_status("handled")
    assert delivery.outcome == f"rerun of pipeline {bot.pipeline_id}: 1 Execs reset"
    bot.executor.expect("/build").expect("/test")
    bot.services.engine.run_until_settled(bot.pipeline_id)


def test_an_unmapped_slack_user_is_told_politely_and_nothing_is_reset(make_bot: MakeBot) -> None:
    bot = make_bot()
    response = bot.click(rerun_click(bot, user_id="U0STRANGER1"))
    assert response.status_code == 200  # Slack shows our reply, not an error
    assert nothing_reset(bot)
    [reply] = bot.fake.responses
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert "not linked to a GitHub user" in reply["text"] and "CI_BOT_SLACK_USERS" in reply["text"]
    [delivery] = bot.services.store.deliveries_with_status("handled")
    assert delivery.outcome.startswith("refused: Sorry, your Slack account is not linked")


@pytest.mark.parametrize("role", ["read", "triage", "none"])
def test_a_mapped_user_without_write_permission_is_refused(
    make_bot: MakeBot, fake_github: Any, role: str
) -> None:
    fake_github.roles[GITHUB_LOGIN] = role
    bot = make_bot()
    bot.click(rerun_click(bot))
    assert nothing_reset(bot)
    [reply] = bot.fake.responses
    assert f"GitHub says {GITHUB_LOGIN} has {role} access to acme/app" in reply["text"]
    assert fake_github.calls_to("GET", f"/collaborators/{GITHUB_LOGIN}/permission")


@pytest.mark.parametrize("role", ["write", "maintain", "admin"])
def test_every_role_that_may_push_may_rerun(make_bot: MakeBot, fake_github: Any, role: str) -> None:
    fake_github.roles[GITHUB_LOGIN] = role
    bot = make_bot()
    bot.click(rerun_click(bot))
    assert bot.state_of("/build") is State.PENDING
    bot.executor.expect("/build").expect("/test")
    bot.services.engine.run_until_settled(bot.pipeline_id)


def test_without_a_github_api_no_one_can_be_checked_so_no_one_reruns(make_bot: MakeBot) -> None:
    bot = make_bot(CI_BOT_GITHUB_TOKEN="")
    bot.click(rerun_click(bot))
    assert nothing_reset(bot)
    [reply] = bot.fake.responses
    assert "need ci-bot's GitHub App or token" in reply["text"]


def test_without_the_map_no_one_reruns(make_bot: MakeBot) -> None:
    bot = make_bot(CI_BOT_SLACK_USERS="")
    bot.click(rerun_click(bot))
    assert nothing_reset(bot)
    assert "not linked" in bot.fake.responses[0]["text"]


def test_github_failing_to_answer_is_a_polite_try_again_and_nothing_is_reset(
    make_bot: MakeBot, fake_github: Any
) -> None:
    bot = make_bot()
    fake_github.fail("GET", "/permission", 403, times=1)  # a refusal GitHub will not explain
    bot.click(rerun_click(bot))
    assert nothing_reset(bot)
    assert "could not ask GitHub" in bot.fake.responses[0]["text"]
    assert "try again" in bot.fake.responses[0]["text"]


def test_a_login_github_does_not_know_has_no_access(make_bot: MakeBot, fake_github: Any) -> None:
    bot = make_bot()
    fake_github.fail("GET", "/permission", 404, times=1)
    bot.click(rerun_click(bot))
    assert nothing_reset(bot)
    assert "has none access" in bot.fake.responses[0]["text"]


def test_a_reply_goes_only_to_slack_never_where_a_payload_points(make_bot: MakeBot) -> None:
    bot = make_bot()
    bot.click(rerun_click(bot, user_id="U0STRANGER1", response_url="http://169.254.169.254/x"))
    assert nothing_reset(bot)
    assert bot.fake.responses == []  # not sent anywhere: the URL is not Slack's
    slack_api = "https://slack.com/api"
    assert allowed_response_url("https://hooks.slack.com/actions/T1/2/x", slack_api)
    assert not allowed_response_url("https://hooks.slack.com.evil.example/x", slack_api)
    assert not allowed_response_url("https://evil.example/https://hooks.slack.com/", slack_api)


def test_who_clicked_is_recorded_as_before(make_bot: MakeBot) -> None:
    bot = make_bot()
    bot.click(rerun_click(bot))
    [reset] = [e for e in bot.services.store.events(bot.pipeline_id) if e.kind == "reset"]
    assert reset.actor == f"slack:{USER_ID} (alice)"
    bot.executor.expect("/build").expect("/test")
    bot.services.engine.run_until_settled(bot.pipeline_id)
