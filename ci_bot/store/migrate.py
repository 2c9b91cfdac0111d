"""The schema's versions, with Alembic: a database is brought to the newest on opening
(``ci-bot db upgrade`` does the same, saying what it did).

A new database gets today's tables at once and is marked newest. One made before
migrations existed (it has tables but no ``alembic_version``) is taken for the
baseline, revision 0001, and upgraded from there. Every later change to
``tables.py`` comes with a revision in ``migrations/versions`` (a test compares the
upgraded schema with the tables).

Most openings find the database at the newest revision already: ``is_newest`` tells
so with one query and the revision files' own lines, without importing or running
Alembic (which costs a command line tool a few hundred milliseconds each time).
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from ci_bot.store import shared as _shared_tables  # noqa: F401  (registers its tables)
from ci_bot.store.database import WRITE
from ci_bot.store.tables import Base

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"

# ``revision = "0002"`` / ``down_revision = "0001"`` (or None), as Alembic writes them.
_REVISION_LINE = re.compile(
    r"""^(down_revision|revision)\s*(?::[^=\n]*)?=\s*(?:["']([^"'\n]+)["']|None)\s*$""",
    re.MULTILINE,
)


def alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


def current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@cache
def newest_revision() -> str | None:
    """The newest revision as the files in ``migrations/versions`` name it: the one no
    other revises.  None when they do not read as one plain chain (a merge, a file
    written some other way): then only Alembic can tell, and ``is_newest`` says no."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(
            (m.group(1), m.group(2)) for m in _REVISION_LINE.finditer(script.read_text("utf-8"))
        )
        if "revision" not in found:
            continue  # __init__.py
        if found["revision"] is None or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"] is not None:
            revised.add(found["down_revision"])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 and revised <= revisions else None


def is_newest(engine: Engine) -> bool:
    """Whether the database is at the newest revision already (one query, no Alembic):
    then opening it has nothing to make or upgrade.  No: a new database (no
    ``alembic_version`` table yet), an older one, or anything unexpected."""
    newest = newest_revision()
    if newest is None:
        return False
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:  # no such table: a new database, or one from before migrations
        return False
    return [row[0] for row in rows] == [newest]


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; (the revision it was at, now)."""
    from alembic import command

    # On SQLite the write lock is taken up front (BEGIN IMMEDIATE): two processes opening
    # a new database at once would otherwise both make its tables, and one fail.
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
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
