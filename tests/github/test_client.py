"""The GitHub client (PyGithub with its ``GithubRetry``) retries 5xx and rate limits
(honouring the reset time), logs one line per attempt without the token, and ends in one
IntegrationError; App tokens are cached."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from ci_bot.errors import IntegrationError
from integrations.github.api import GitHubApi
from integrations.github.auth import AppTokens, PersonalToken
from integrations.github.client import GitHubClient
from tests.fakes.github import FakeGitHub
from tests.github.conftest import AppKey
from tests.github.support import APP_ID, PERSONAL_TOKEN

STATUS = {"state": "success", "context": "ci/lint", "description": "ok"}
SHA = "a" * 40
PATH = f"/repos/acme/app/statuses/{SHA}"


def api(url: str, slept: list[float], **options: float) -> GitHubApi:
    client = GitHubClient(url, sleep=slept.append, backoff=0.5, **options)  # type: ignore[arg-type]
    return GitHubApi(client, PersonalToken(PERSONAL_TOKEN))


def post_status(github: GitHubApi) -> None:
    github.create_status("acme/app", None, SHA, STATUS)


def test_server_errors_are_retried_with_backoff(fake_github: FakeGitHub) -> None:
    slept: list[float] = []
    fake_github.fail("POST", "/statuses/", 502, times=3)
    post_status(api(fake_github.url, slept))
    assert slept == [1.0, 2.0]  # urllib3: the first retry at once, then doubling
    assert [c.status for c in fake_github.calls_to("POST", "/statuses/")] == [502, 502, 502, 201]


def test_a_rate_limit_waits_until_its_reset(fake_github: FakeGitHub) -> None:
    slept: list[float] = []
    reset = int(time.time()) + 30
    limit = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    fake_github.fail("POST", "/statuses/", 403, headers=limit)
    post_status(api(fake_github.url, slept))
    [waited] = slept  # until the reset, plus a second for clocks that disagree
    assert 29.0 < waited <= 31.0
    fake_github.fail("POST", "/statuses/", 429, headers={"retry-after": "7"})
    post_status(api(fake_github.url, slept))
    assert slept[1:] == [7.0]


def test_a_reset_too_far_away_or_a_plain_403_is_not_waited_for(fake_github: FakeGitHub) -> None:
    slept: list[float] = []
    far = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 3600)}
    fake_github.fail("POST", "/statuses/", 403, headers=far)
    with pytest.raises(IntegrationError, match="403"):
        post_status(api(fake_github.url, slept))
    fake_github.fail("POST", "/statuses/", 403)
    with pytest.raises(IntegrationError, match="403"):
        post_status(api(fake_github.url, slept))
    assert slept == []


def test_giving_up_is_one_error_and_one_log_line_per_call_without_the_token(
    fake_github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="integrations.github.client")
    fake_github.fail("POST", "/statuses/", 500, times=4)
    with pytest.raises(IntegrationError, match="GitHub answered 500 to POST"):
        post_status(api(fake_github.url, []))
    lines = [r.getMessage() for r in caplog.records if r.name == "integrations.github.client"]
    *attempts, outcome = lines  # one line per attempt, then the outcome
    assert len(attempts) == 4 and all(f'POST {PATH} "500' in line for line in attempts)
    assert "failed for good" in outcome
    assert PERSONAL_TOKEN not in caplog.text
    assert [c.status for c in fake_github.calls_to("POST", "/statuses/")] == [500] * 4


def test_an_unreachable_github_is_an_integration_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    slept: list[float] = []
    github = api(f"http://127.0.0.1:{port}", slept, max_attempts=3)
    with pytest.raises(IntegrationError, match="could not be reached"):
        github.pull("a/b", None, 1)
    assert slept == [1.0]


def test_each_call_is_one_request_no_fetch_of_the_repository_first(
    fake_github: FakeGitHub,
) -> None:
    github = api(fake_github.url, [])
    fake_github.add_pull("acme/app", 3, "b" * 40, "fork/app", author="mona", head_ref="topic")
    fake_github.roles["mona"] = "maintain"
    check_run = github.create_check_run("acme/app", None, {"name": "ci/x", "head_sha": SHA})
    github.update_check_run("acme/app", None, check_run, {"status": "in_progress"})
    post_status(github)
    github.comment("acme/app", None, 3, "hello")
    github.react("acme/app", None, 77, "eyes")
    assert github.role("acme/app", None, "mona") == "maintain"
    pull = github.pull("acme/app", None, 3)
    assert (pull.head_repo, pull.head_ref, pull.author, pull.state) == (
        "fork/app",
        "topic",
        "mona",
        "open",
    )
    assert fake_github.summary() == [
        "POST /repos/acme/app/check-runs -> 201",
        f"PATCH /repos/acme/app/check-runs/{check_run} -> 200",
        f"POST {PATH} -> 201",
        "POST /repos/acme/app/issues/3/comments -> 201",
        "POST /repos/acme/app/issues/comments/77/reactions -> 201",
        "GET /repos/acme/app/collaborators/mona/permission -> 200",
        "GET /repos/acme/app/pulls/3 -> 200",
    ]


def test_app_installation_tokens_come_from_a_signed_jwt_and_are_cached(
    fake_github: FakeGitHub, app_key: AppKey
) -> None:
    now = [1_000.0]
    tokens = AppTokens(APP_ID, app_key.private_pem, fake_github.url, clock=lambda: now[0])
    first = tokens.token(7)
    assert tokens.token(7) == first and fake_github.tokens_issued == [7]
    tokens.token(8)
    assert fake_github.tokens_issued == [7, 8]
    now[0] = 1e12  # long after the hour: a fresh token
    assert tokens.token(7) != first and fake_github.tokens_issued == [7, 8, 7]
    with pytest.raises(IntegrationError, match="installation"):
        tokens.token(None)


def test_a_wrong_app_key_is_refused_with_a_sentence(
    fake_github: FakeGitHub, app_key: AppKey, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tokens = AppTokens(APP_ID, other.decode(), fake_github.url)
    with pytest.raises(IntegrationError, match="check the App id, its private key"):
        tokens.token(7)
    assert fake_github.problems  # the fake saw a JWT it could not verify
    fake_github.problems.clear()
