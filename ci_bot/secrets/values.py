"""What the secret store accepts: names, repositories and values (pure)."""

from __future__ import annotations

import re

from ci_bot.tree.params import ENV_NAME

MIN_VALUE_CHARS = 4
# GitHub's owner/name, or a bare name: `ci-bot run DIR` names its pipelines' repository
# after the directory.
REPO_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?")


def refusal(value: str) -> str:
    """Why ``value`` cannot be a secret, or "" when it can."""
    if len(value) < MIN_VALUE_CHARS:
        return (
            f"a secret must have at least {MIN_VALUE_CHARS} characters: a shorter one "
            "cannot be masked in logs without hiding ordinary output"
        )
    return ""


def repo_refusal(repo: str) -> str:
    if repo == "*":
        return (
            "there is no secret for every repository: set it for each repository "
            "that needs it, so `ci-bot secrets list` shows who gets what"
        )
    if not REPO_NAME.fullmatch(repo) or repo.strip(".") == "":
        return f"{repo!r} is not a repository: owner/name (or the directory name `ci-bot run` uses)"
    return ""


def name_refusal(name: str) -> str:
    if not ENV_NAME.fullmatch(name):
        return f"{name!r} is not a secret name: letters, digits and _, not starting with a digit"
    return ""


def repo_key(repo: str) -> str:
    """How a repository is stored and matched: GitHub's names ignore case."""
    return repo.lower()
