"""Fixtures for the hardening tests: the Slack tests' fakes (Slack, and the GitHub a
rerun click is checked against), shared here so these tests drive the same bot."""

from __future__ import annotations

from tests.slack.conftest import fake_github, fake_slack, slack_spec

__all__ = ["fake_github", "fake_slack", "slack_spec"]
