"""What the ``ci-bot`` commands that read or change pipelines share: the services, a
person's name, and a pipeline or node looked up with "did you mean …?".

Every refusal is a ``click.ClickException``: one sentence and exit 1, never a traceback.
The store (SQLAlchemy) is imported when a command opens it, not with this module.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from ci_bot.errors import CiBotError
from ci_bot.settings import Settings
from ci_bot.tree.nodes import walk

if TYPE_CHECKING:
    from ci_bot.services import Services
    from ci_bot.store.records import Pipeline

T = TypeVar("T")


def services() -> Services:
    """The store; the executor and the engine when the command first uses them."""
    from ci_bot.services import open_store_services

    try:
        return open_store_services(Settings.from_env())
    except CiBotError as error:
        raise click.ClickException(str(error)) from None


def driving_services() -> Services:
    """For the commands that drive a pipeline here (``run``, ``resume``, ``rerun``): the
    engine, which publishes releases through the GitHub API when one is set."""
    from ci_bot.services import open_driving_services

    try:
        return open_driving_services(Settings.from_env())
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
        from ci_bot.tree.suggest import path_meant  # it reads the config's grammar

        meant = path_meant(path, paths)
        hint = f"; did you mean {meant}?" if meant else f" (its nodes: `ci-bot show {pipeline_id}`)"
        raise click.ClickException(f"pipeline {pipeline_id} has no node {path}{hint}")
    return pipeline


def actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
