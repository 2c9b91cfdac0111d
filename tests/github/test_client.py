"""The GitHub client retries 5xx and rate limits (honouring the reset time), logs one line
per call without the token, and ends in one IntegrationError; App tokens are cached."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from ci_bot.errors import IntegrationError
from integrations.github.auth import AppTokens
from integrations.github.client import GitHubClient
from tests.fakes.github import FakeGitHub
from tests.github.conftest import AppKey
from tests.github.support import APP_ID, PERSONAL_TOKEN

STATUS = {"state": "success", "context": "ci/lint", "description": "ok"}
SHA = "a" * 40
PATH = f"/repos/acme/app/statuses/{SHA}"


def client(fake: FakeGitHub, slept: list[float], now: float = 1_000_000.0) -> GitHubClient:
    return GitHubClient(fake.url, sleep=slept.append, clock=lambda: now, backoff=0.5)


def test_server_errors_are_retried_with_backoff(fake_github: FakeGitHub) -> None:
    slept: list[float] = []
    fake_github.fail("POST", "/statuses/", 502, times=2)
    client(fake_github, slept).request("POST", PATH, PERSONAL_TOKEN, STATUS)
    assert slept == [0.5, 1.0]
    assert [c.status for c in fake_github.calls_to("POST", "/statuses/")] == [502, 502, 201]


def test_a_rate_limit_waits_until_its_reset(fake_github: FakeGitHub) -> None:
    slept: list[float] = []
    limit = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000030"}
    fake_github.fail("POST", "/statuses/", 403, headers=limit)
    client(fake_github, slept, now=1_000_000.0).request("POST", PATH, PERSONAL_TOKEN, STATUS)
    assert slept == [31.0]  # until the reset, plus a second for clocks that disagree
    fake_github.fail("POST", "/statuses/", 429, headers={"retry-after": "7"})
    client(fake_github, slept).request("POST", PATH, PERSONAL_TOKEN, STATUS)
    assert slept == [31.0, 7.0]


def test_a_reset_too_far_away_or_a_plain_403_is_not_waited_for(fake_github: FakeGitHub) -> None:
    slept: list[float] = []
    far = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1003600"}
    fake_github.fail("POST", "/statuses/", 403, headers=far)
    with pytest.raises(IntegrationError, match="403"):
        client(fake_github, slept).request("POST", PATH, PERSONAL_TOKEN, STATUS)
    fake_github.fail("POST", "/statuses/", 403)
    with pytest.raises(IntegrationError, match="403"):
        client(fake_github, slept).request("POST", PATH, PERSONAL_TOKEN, STATUS)
    assert slept == []


def test_giving_up_is_one_error_and_one_log_line_per_call_without_the_token(
    fake_github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="integrations.github.client")
    fake_github.fail("POST", "/statuses/", 500, times=4)
    with pytest.raises(IntegrationError, match="GitHub answered 500 to POST"):
        client(fake_github, []).request("POST", PATH, PERSONAL_TOKEN, STATUS)
    lines = [r.getMessage() for r in caplog.records if r.name == "integrations.github.client"]
    assert len(lines) == 4 and all(f'POST {PATH} "500' in line for line in lines)
    assert PERSONAL_TOKEN not in caplog.text


def test_an_unreachable_github_is_an_integration_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    slept: list[float] = []
    github = GitHubClient(f"http://127.0.0.1:{port}", sleep=slept.append, max_attempts=3)
    with pytest.raises(IntegrationError, match="could not be reached"):
        github.request("GET", "/repos/a/b/pulls/1", "token")
    assert slept == [0.5, 1.0]


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
