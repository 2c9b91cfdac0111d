"""``ci-bot secrets set|list|rm``: each repository's secrets, sealed in the database.

A value is read from stdin (typed at a hidden prompt on a terminal), never from
the command line, where ``ps`` and the shell's history would keep it; it is never
printed back.  ``docs/security.md`` says who gets which secret.
"""

from __future__ import annotations

import sys

import click

from ci_bot.cli_events import check_event
from ci_bot.errors import CiBotError, SecretError
from ci_bot.secrets.scope import Scope
from ci_bot.secrets.store import SecretStore
from ci_bot.secrets.values import name_refusal, repo_refusal
from ci_bot.settings import Settings
from ci_bot.store.store import Store


def _secret_store() -> SecretStore:
    try:
        settings = Settings.from_env()
        return SecretStore(Store(settings.database_url), settings)
    except CiBotError as error:
        raise click.ClickException(str(error)) from None


@click.group("secrets")
def secrets() -> None:
    """The secrets nodes ask for (`secrets = [...]`), per repository."""


@secrets.command("set")
@click.argument("repo")
@click.argument("name")
@click.option(
    "--branch",
    "branches",
    multiple=True,
    metavar="GLOB",
    help="Only for pipelines of a matching branch (repeatable; * matches anything).",
)
@click.option(
    "--event",
    "events",
    multiple=True,
    callback=check_event,
    metavar="EVENT",
    help="Only for pipelines of this event: push, pr, create-tag, cron, … (repeatable).",
)
def set_secret(repo: str, name: str, branches: tuple[str, ...], events: tuple[str, ...]) -> None:
    """Store REPO's secret NAME (REPO is owner/name); the value is read from stdin.

    \b
    printf %s "$TOKEN" | ci-bot secrets set acme/app DEPLOY_TOKEN --branch main --event push
    """
    problem = repo_refusal(repo) or name_refusal(name)  # before the value is typed
    if problem:
        raise click.ClickException(problem)
    if any(not branch.strip() for branch in branches):
        raise click.ClickException("--branch needs a branch name or a glob, e.g. main or release/*")
    scope = Scope(tuple(dict.fromkeys(branches)), tuple(dict.fromkeys(events)))
    store = _secret_store()
    try:
        replaced = store.set(repo, name, _read_value(name), scope)
    except SecretError as error:
        raise click.ClickException(str(error)) from None
    done = "replaced" if replaced else "set"
    click.echo(f"{done} secret {name} of {repo.lower()}, for {scope.describe()}")


def _read_value(name: str) -> str:
    """The value from a hidden prompt on a terminal, else all of stdin less one
    final line break (the one `echo` adds)."""
    if sys.stdin.isatty():
        value: str = click.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
        return value
    value = sys.stdin.read()
    return value.removesuffix("\n").removesuffix("\r")


@secrets.command("list")
@click.argument("repo", required=False)
def list_secrets(repo: str | None) -> None:
    """Names and scopes of the secrets (REPO's, or all); never a value.

    REPO `*` marks CI_BOT_SECRETS_FILE's secrets, which every repository gets.
    """
    infos = _secret_store().describe(repo)
    if not infos:
        click.echo("no secrets: add one with `ci-bot secrets set REPO NAME`")
    for info in infos:
        when = (
            f"{info.updated_at.isoformat(timespec='seconds')}Z"
            if info.updated_at
            else "CI_BOT_SECRETS_FILE"
        )
        click.echo(f"{info.repo}\t{info.name}\t{info.scope.describe()}\t{when}")


@secrets.command("rm")
@click.argument("repo")
@click.argument("name")
def remove_secret(repo: str, name: str) -> None:
    """Forget REPO's secret NAME."""
    store = _secret_store()
    if not store.remove(repo, name):
        hint = "; it comes from CI_BOT_SECRETS_FILE: edit that file" if name in store.legacy else ""
        raise click.ClickException(f"{repo.lower()} has no secret {name}{hint}")
    click.echo(f"removed secret {name} of {repo.lower()}")
