"""What the ``ci-bot`` commands share: the services, a person's name, the event options
of ``plan`` and ``run``, and arguments checked with "did you mean …?".

Every refusal is a ``click.ClickException``: one sentence and exit 1, never a traceback.
Nothing here imports the store (SQLAlchemy) before a command opens it: ``validate``
and ``plan`` use this module too.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ci_bot.errors import CiBotError
from ci_bot.settings import Settings
from ci_bot.tree.config import EVENTS
from ci_bot.tree.nodes import walk
from ci_bot.tree.select import Event
from ci_bot.tree.suggest import path_meant, unknown_event

if TYPE_CHECKING:
    from ci_bot.services import Services
    from ci_bot.store.records import Pipeline

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def services() -> Services:
    """The store; the executor and the engine when the command first uses them."""
    from ci_bot.services import open_store_services

    try:
        return open_store_services(Settings.from_env())
    except CiBotError as error:
        raise click.ClickException(str(error)) from None


def driving_services() -> Services:
    """Everything ``serve`` has, for the commands that drive a pipeline here (``run``,
    ``resume``, ``rerun``): the engine publishes releases through the GitHub API."""
    from ci_bot.services import open_services

    try:
        return open_services(Settings.from_env())
    except CiBotError as error:
        raise click.ClickException(str(error)) from None


def control(action: Callable[[], T]) -> T:
    """``action()``; a missing pipeline or node is a sentence, not a traceback."""
    from ci_bot.store.store import NotFound

    try:
        return action()
    except NotFound as error:
        raise click.ClickException(str(error)) from None


def pipeline_or_fail(svc: Services, pipeline_id: int) -> Pipeline:
    return control(lambda: svc.store.pipeline(pipeline_id))


def node_or_fail(svc: Services, pipeline_id: int, path: str) -> Pipeline:
    """The pipeline, when it exists and has a node ``path``; else exit 1 saying which
    is missing (the pipeline first), with the path probably meant."""
    pipeline = pipeline_or_fail(svc, pipeline_id)
    paths = [found for found, _, _ in walk(svc.store.tree(pipeline_id))]
    if path not in paths:
        meant = path_meant(path, paths)
        hint = f"; did you mean {meant}?" if meant else f" (its nodes: `ci-bot show {pipeline_id}`)"
        raise click.ClickException(f"pipeline {pipeline_id} has no node {path}{hint}")
    return pipeline


def actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


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
