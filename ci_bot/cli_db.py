"""``ci-bot db upgrade``: bring the store's schema to this version's (Alembic)."""

from __future__ import annotations

from pathlib import Path

import click

from ci_bot.errors import CiBotError
from ci_bot.settings import Settings


@click.group()
def db() -> None:
    """The store's schema."""


@db.command()
def upgrade() -> None:
    """Upgrade the store (CI_BOT_DATABASE_URL, or SQLite in the data dir) in place to
    this version's schema. Opening a store does it too; run it once before starting
    many servers and workers on a new version."""
    from sqlalchemy import create_engine

    from ci_bot.store.database import open_engine
    from ci_bot.store.migrate import current, head

    try:
        url = Settings.from_env().database_url
    except CiBotError as error:
        raise click.ClickException(str(error)) from None
    if url.startswith("sqlite:///"):  # a new data dir: its folder, as opening makes it
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    probe = create_engine(url)
    try:
        with probe.connect() as connection:
            before = current(connection)
    except Exception as error:
        raise click.ClickException(f"cannot open the store: {error}") from None
    finally:
        probe.dispose()
    open_engine(url).dispose()  # opening upgrades, under the schema lock
    if before == head():
        click.echo(f"the store is at revision {head()} already")
    else:
        click.echo(f"the store went from revision {before or 'unversioned'} to {head()}")
