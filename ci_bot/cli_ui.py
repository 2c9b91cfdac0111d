"""``ci-bot ui-token``: make, list and revoke sign-in tokens for the web UI and its API;
``ci-bot api``: call that API from a shell, with such a token.

A token is shown once, when it is made; the store keeps only its hash.  A token
is a ``viewer`` (reads) unless made with ``--role operator`` (also resets, skips,
cancels, reruns): the safer default.  Tokens in ``CI_BOT_UI_TOKENS`` work as well,
as operators, and are managed in the environment.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request

import click

from ci_bot.errors import CiBotError
from ci_bot.settings import Settings
from ci_bot.store.store import Store
from ci_bot.store.ui_records import ROLES, VIEWER, DuplicateToken

NAME = re.compile(r"[A-Za-z0-9_.@-]{1,100}")


def _store() -> Store:
    return Store(settings_or_fail().database_url)


@click.group("ui-token")
def ui_token() -> None:
    """Sign-in tokens for the web UI and the JSON API."""


@ui_token.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=VIEWER,
    show_default=True,
    help="viewer: read only; operator: also reset, skip, cancel and rerun.",
)
def create(name: str, role: str) -> None:
    """Make a token called NAME (who it is for); it is printed once."""
    if not NAME.fullmatch(name):
        raise click.ClickException("a token's name is letters, digits and . _ @ - (at most 100)")
    from ci_bot.web.auth import hash_secret, new_secret  # the web side only when needed

    token = new_secret()
    try:
        _store().add_ui_token(name, hash_secret(token), role)
    except DuplicateToken as error:
        raise click.ClickException(f"{error}; revoke it first or pick another name") from None
    click.echo(token)
    click.echo(f"{role} token {name!r} made; it is shown only now", err=True)


@ui_token.command("list")
def list_tokens() -> None:
    """The tokens' names and when they were made (never the tokens)."""
    tokens = _store().ui_tokens()
    if not tokens:
        click.echo("no tokens made with `ci-bot ui-token create`")
    for token in tokens:
        made = token.created_at.isoformat(timespec="seconds")
        click.echo(f"{token.name}\t{token.role}\t{made}Z")


@ui_token.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Forget the token NAME: it signs no one in any more."""
    if not _store().revoke_ui_token(name):
        raise click.ClickException(f"no token named {name!r}")
    click.echo(f"revoked {name!r}")


@click.command("api")
@click.argument("method", type=click.Choice(["GET", "POST"], case_sensitive=False))
@click.argument("path")
@click.option(
    "--data", "data", default=None, help='A JSON body for POST, e.g. \'{"path": "/test"}\'.'
)
@click.option("--url", default=None, help="The bot's address; default CI_BOT_PUBLIC_URL.")
@click.option(
    "--token", envvar="CI_BOT_API_TOKEN", required=True, help="A UI token (env CI_BOT_API_TOKEN)."
)
def api(method: str, path: str, data: str | None, url: str | None, token: str) -> None:
    """Call the bot's JSON API (docs/api.md): `ci-bot api GET /api/pipelines/3`."""
    if not path.startswith("/api/"):
        raise click.ClickException("PATH is an API path such as /api/pipelines")
    base = url or settings_or_fail().public_url
    status, body = call_api(method.upper(), base.rstrip("/") + path, token, data)
    click.echo(body)
    if status >= 400:
        sys.exit(1)


def settings_or_fail() -> Settings:
    try:
        return Settings.from_env()
    except CiBotError as error:
        raise click.ClickException(str(error)) from None


def call_api(method: str, url: str, token: str, data: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    body = None
    if data is not None:
        try:
            body = json.dumps(json.loads(data)).encode()
        except ValueError as error:
            raise click.ClickException(f"--data is not JSON: {error}") from None
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as error:
        raise click.ClickException(f"{url}: {error}") from None
