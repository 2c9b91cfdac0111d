"""A store made by an older ci-bot keeps working: Alembic brings it to this version's
schema in place, on SQLite and on PostgreSQL, and `ci-bot db upgrade` says so.

The baseline (``ci_bot/store/migrations/baseline``) is the schema the release before
migrations made; a database made from it, with rows in it, stands for a user's."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ci_bot.store.migrate import MIGRATIONS, current, head, is_newest, newest_revision
from ci_bot.store.records import CommandChange
from ci_bot.store.store import Store
from ci_bot.store.tables import Base
from ci_bot.tree.states import State
from tests.conftest import POSTGRES_URL, require
from tests.containers import ci_bot_command

BASELINE = MIGRATIONS / "baseline"
TREE = '{"name": "/", "type": "serial", "children": [{"name": "a", "type": "exec", "run": "a"}]}'
ROWS = [
    "INSERT INTO pipelines (repo, event, branch, base_branch, tag, pr, sha, author, title, "
    "entry, config_file, tree_json, source_dir, state, cancel_requested, trusted, created_at) "
    f"VALUES ('acme/app', 'push', 'main', '', '', '', 'abc', '', 'first', '[push]', "
    f"'conducto.cfg', '{TREE}', '', 'done', false, true, '2026-01-01 00:00:00')",
    "INSERT INTO nodes (pipeline_id, path, type, state, skip, skip_reason, message, failures) "
    "VALUES (1, '/', 'serial', 'done', false, '', '', 0), "
    "(1, '/a', 'exec', 'done', false, '', '', 0)",
    "INSERT INTO executions (pipeline_id, path, attempt, state, exit_code, message, "
    "log_path, kill_requested, created_at) "
    "VALUES (1, '/a', 1, 'done', 0, '', '', false, '2026-01-01 00:00:00')",
    "INSERT INTO ui_tokens (name, token_hash, created_at) "
    "VALUES ('old', 'feedbeef', '2026-01-01 00:00:00')",
]


def older_store(url: str) -> None:
    """A store as the release before migrations left it, with a pipeline that ran."""
    engine = create_engine(url)
    dialect = "postgresql" if engine.dialect.name == "postgresql" else "sqlite"
    with engine.begin() as connection:
        for statement in (BASELINE / f"{dialect}.sql").read_text().split(";\n"):
            if statement.strip():
                connection.execute(text(statement))
        for row in ROWS:
            connection.execute(text(row))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ci-bot.sqlite'}"
        return
    require(bool(POSTGRES_URL), "no PostgreSQL: set TEST_POSTGRES_URL (make postgres does)")
    name = f"ci_bot_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def db_upgrade(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env.update(CI_BOT_DATABASE_URL=url, CI_BOT_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run(
        [*ci_bot_command(), "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )


def test_an_older_store_is_upgraded_in_place_and_keeps_its_pipelines(
    url: str, tmp_path: Path
) -> None:
    older_store(url)

    upgraded = db_upgrade(url, tmp_path)
    again = db_upgrade(url, tmp_path)

    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == f"the store went from revision unversioned to {head()}\n"
    assert again.stdout == f"the store is at revision {head()} already\n"
    store = Store(url)
    pipeline = store.pipeline(1)
    assert (pipeline.repo, pipeline.state, pipeline.dirty) == ("acme/app", State.DONE, False)
    assert [e.state for e in store.executions(1)] == [State.DONE]
    assert store.executions(1)[0].worker is None
    store.reset(1, "/a", actor="alice", run="b")  # a feature the baseline had no column for
    assert store.queue(1, "/a", "/logs").command_change == CommandChange("alice", "a", "b")
    store.close()
    engine = create_engine(url)
    with engine.connect() as connection:
        role = connection.execute(text("SELECT role FROM ui_tokens WHERE name = 'old'")).scalar()
    engine.dispose()
    assert role == "operator"


def test_the_upgraded_schema_is_the_tables_schema(url: str) -> None:
    older_store(url)
    Store(url).close()  # opening upgrades

    engine = create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        revision = current(connection)
    engine.dispose()

    assert differences == [], "a change to tables.py needs a revision in migrations/versions"
    assert revision == head()


def test_a_new_store_is_made_at_the_newest_revision(url: str) -> None:
    Store(url).close()

    engine = create_engine(url)
    with engine.connect() as connection:
        assert current(connection) == head()
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_the_revision_files_name_the_head_alembic_finds() -> None:
    assert newest_revision() == head()


def test_only_a_store_at_the_newest_revision_counts_as_newest(url: str) -> None:
    engine = create_engine(url)
    assert not is_newest(engine)  # a new database: no alembic_version yet
    Store(url).close()
    assert is_newest(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert not is_newest(engine)
    engine.dispose()


def test_an_older_revision_is_upgraded_when_the_store_opens(url: str) -> None:
    older_store(url)
    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as connection:  # as if it were at the baseline still
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))

    Store(url).close()

    with engine.connect() as connection:
        assert current(connection) == head()
    engine.dispose()


def test_a_store_at_the_newest_revision_opens_without_alembic(url: str) -> None:
    Store(url).close()
    script = (
        "import sys; from ci_bot.store.store import Store; "
        f"Store({url!r}).close(); print(sorted(m for m in sys.modules if 'alembic' in m))"
    )

    opened = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == "[]\n"


def test_processes_opening_a_new_store_at_once_all_open_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ci-bot.sqlite'}"
    script = f"from ci_bot.store.store import Store; Store({url!r}).close()"
    openers = [
        subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]

    errors = [opener.communicate(timeout=120)[1] for opener in openers]

    assert [opener.returncode for opener in openers] == [0] * 4, errors
    engine = create_engine(url)
    assert is_newest(engine)
    engine.dispose()
