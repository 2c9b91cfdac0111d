"""The event ``plan`` and ``run`` are asked to act on: its options, and ``--event``
checked with "did you mean …?" (``pull_request`` → ``pr``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from ci_bot.tree.config import EVENTS
from ci_bot.tree.select import Event
from ci_bot.tree.suggest import unknown_event

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def check_event(ctx: click.Context, param: click.Parameter, value: T) -> T:
    """An ``--event`` option's callback (one event, or several): events of a conducto.cfg,
    or a refusal that names the event probably meant (``pull_request`` → ``pr``)."""
    for name in value if isinstance(value, tuple) else [value]:
        if name is not None and name not in EVENTS:
            raise click.BadParameter(unknown_event(str(name)), ctx, param)
    return value


def event_from(name: str, values: dict[str, str], at: datetime | None = None) -> Event:
    """The event the options of ``event_options`` describe."""
    return Event(
        name,
        branch=values.get("branch", ""),
        base_branch=values.get("base_branch", ""),
        pr=values.get("pr", "").lstrip("#"),
        tag=values.get("tag", ""),
        sha=values.get("sha", ""),
        repo=values.get("repo", ""),
        author=values.get("author", ""),
        at=at,
    )


def event_options(*, sha_help: str, defaults: str = "") -> Callable[[F], F]:
    """The event's values, as ``plan`` and ``run`` both take them; ``defaults`` says
    where an omitted branch and repository come from."""
    options = [
        click.option(
            "--branch", default="", help=f"The branch pushed, or the PR's head branch.{defaults}"
        ),
        click.option("--base-branch", default="", help="A pull request's base branch."),
        click.option("--pr", default="", help="The pull request's number ({pr})."),
        click.option("--tag", default="", help="The tag created or deleted ({tag})."),
        click.option("--sha", default="", help=sha_help),
        click.option("--repo", default="", help="The repository, owner/name ({repo})."),
        click.option("--author", default="", help="Who pushed or opened the PR ({author})."),
    ]

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
