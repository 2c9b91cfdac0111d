"""Fixtures for the Slack tests: Slack's official description and the fake Web API, and
the fake GitHub a rerun click is checked against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.slack import FakeSlack, SlackSpec
from tests.slack.support import GITHUB_LOGIN, GITHUB_TOKEN, TOKEN


@pytest.fixture(scope="session")
def slack_spec(fixtures_dir: Path) -> SlackSpec:
    return SlackSpec(fixtures_dir)


@pytest.fixture
def fake_slack(slack_spec: SlackSpec) -> Iterator[FakeSlack]:
    """Slack's Web API on 127.0.0.1 with #general and #ci; any contract breach fails the test."""
    fake = FakeSlack(slack_spec, TOKEN, channels=("general", "ci")).start()
    yield fake
    fake.stop()
    assert not fake.problems, "Slack got calls that break its API:\n" + "\n".join(fake.problems)


@pytest.fixture
def fake_github(fixtures_dir: Path) -> Iterator[FakeGitHub]:
    """GitHub as a personal token sees it; GITHUB_LOGIN may push (``roles`` changes that)."""
    fake = FakeGitHub(fixtures_dir, personal_token=GITHUB_TOKEN).start()
    fake.roles[GITHUB_LOGIN] = "write"
    yield fake
    fake.stop()
    fake.assert_no_problems()
