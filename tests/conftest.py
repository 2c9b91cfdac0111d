"""Fixtures shared by every test.

Tests that need something this machine may lack (a Docker engine, the shared
fixtures folder) skip with a reason on a developer's machine, and fail under
``CI=true``: in CI a missing engine is a broken setup, not a reason to pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.gitrepos"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, or fail under CI=true."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CI_BOT_* setting from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("CI_BOT_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """GitHub's and Slack's official examples and schemas (never copied into the repo)."""
    override = os.environ.get("CI_BOT_FIXTURES_DIR")
    path = Path(override) if override else REPO_ROOT.parent / "shared" / "fixtures"
    require(path.is_dir(), f"fixtures folder {path} is absent (set CI_BOT_FIXTURES_DIR)")
    return path
