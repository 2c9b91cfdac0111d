"""The schema's versions, with Alembic: a database is brought to the newest on opening
(``ci-bot db upgrade`` does the same, saying what it did).

A new database gets today's tables at once and is marked newest. One made before
migrations existed (it has tables but no ``alembic_version``) is taken for the
baseline, revision 0001, and upgraded from there. Every later change to
``tables.py`` comes with a revision in ``migrations/versions`` (a test compares the
upgraded schema with the tables).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import Connection

from ci_bot.store import shared as _shared_tables  # noqa: F401  (registers its tables)
from ci_bot.store.tables import Base

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; (the revision it was at, now)."""
    with engine.begin() as connection:
        tables = set(inspect(connection).get_table_names())
        config = alembic_config(connection)
        before = current(connection)
        if not tables - {"alembic_version"}:
            Base.metadata.create_all(connection)
            command.stamp(config, "head")
            logger.info("database schema: made at revision %s", head())
            return None, head()
        if before is None:
            # Made before migrations: what a version then lacked, make; the revisions
            # after the baseline skip what is already there.
            Base.metadata.create_all(connection)
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        after = current(connection)
    if after != before:
        logger.info("database schema: upgraded from %s to %s", before or "unversioned", after)
    return before, str(after)
