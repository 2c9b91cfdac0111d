"""A data dir made by an older ci-bot keeps working: new columns are added in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine

from ci_bot.store.database import add_missing_columns, open_engine
from ci_bot.store.records import CommandChange
from ci_bot.store.store import Store
from ci_bot.tree.states import State
from tests.pipelines import create_pipeline


def test_an_older_pipelines_table_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:  # the table as the first release made it
        old.execute(
            "CREATE TABLE pipelines (id INTEGER PRIMARY KEY, repo VARCHAR(200), "
            "event VARCHAR(40), branch VARCHAR(255), base_branch VARCHAR(255), "
            "tag VARCHAR(255), pr VARCHAR(20), sha VARCHAR(64), author VARCHAR(255), "
            "title TEXT, entry VARCHAR(200), config_file VARCHAR(255), tree_json TEXT, "
            "source_dir TEXT, state VARCHAR(20), cancel_requested BOOLEAN, "
            "lease_owner VARCHAR(200), lease_until DATETIME, created_at DATETIME, "
            "finished_at DATETIME)"
        )
        old.execute(
            "INSERT INTO pipelines (repo, event, branch, base_branch, tag, pr, sha, author, "
            "title, entry, config_file, tree_json, source_dir, state, cancel_requested, "
            "created_at) VALUES ('r', 'push', 'main', '', '', '', '', '', '', '', '', "
            '\'{"name": "/", "type": "serial", "children": '
            '[{"name": "a", "type": "exec", "run": "a"}]}\', \'\', \'done\', 0, '
            "'2026-01-01 00:00:00')"
        )
    store = Store(f"sqlite:///{path}")  # opening it adds what is missing
    pipeline = store.pipeline(1)
    assert pipeline.trusted is True, "an old pipeline counts as trusted, as it was built"
    assert pipeline.dirty is False, "an old pipeline ran its commit as far as anyone knows"
    assert pipeline.state is State.DONE
    assert add_missing_columns(open_engine(f"sqlite:///{path}")) == [], "idempotent"


def test_older_nodes_and_executions_tables_gain_the_command_change_columns(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    Store(url).close()
    new_columns = ["command_by", "command_old", "command_new"]
    with sqlite3.connect(tmp_path / "old.sqlite") as old:  # as a version before `reset --run`
        for table in ("nodes", "executions"):
            for column in new_columns:
                old.execute(f"ALTER TABLE {table} DROP COLUMN {column}")

    engine = create_engine(url)
    added = add_missing_columns(engine)  # what opening the store does first
    engine.dispose()

    assert sorted(added) == sorted(f"{t}.{c}" for t in ("nodes", "executions") for c in new_columns)
    store = Store(url)
    pipeline_id = create_pipeline(
        store, '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"'
    )
    store.reset(pipeline_id, "/a", actor="alice", run="b")
    assert store.queue(pipeline_id, "/a", "/logs").command_change == CommandChange(
        "alice", "a", "b"
    )
    store.close()
