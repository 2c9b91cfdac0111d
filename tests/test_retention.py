"""Retention archives finished pipelines past CI_BOT_RETENTION_DAYS: files go, records stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ci_bot.engine.context import pipeline_dir
from ci_bot.engine.runner import Engine
from ci_bot.executors.fake import FakeExecutor
from ci_bot.retention import archive_old
from ci_bot.settings import Settings
from ci_bot.store.records import NewPipeline
from ci_bot.store.store import Store, utcnow
from ci_bot.store.views import pipeline_json
from ci_bot.tree.config import parse_config
from ci_bot.tree.select import Event, Plan, select
from ci_bot.tree.states import State
from ci_bot.tree.treejson import dumps

CONFIG = '[push]\n[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n'


def launch(store: Store, settings: Settings, name: str) -> int:
    plan = select(parse_config(CONFIG), Event("push", branch="main"))
    assert isinstance(plan, Plan) and plan.tree is not None
    source = settings.data_dir / "sources" / name
    source.mkdir(parents=True)
    (source / "conducto.cfg").write_text(CONFIG)
    new = NewPipeline(repo="r", event="push", tree_json=dumps(plan.tree), source_dir=str(source))
    return store.create_pipeline(new, plan.tree, plan.skipped)


def test_old_finished_pipelines_lose_their_files_but_keep_their_record(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, retention_days=30)
    store = Store(settings.database_url)
    fake = FakeExecutor().expect("/a", output="hello\n")
    engine = Engine(store, fake, settings, poll_seconds=0.01)
    old = launch(store, settings, "old")
    engine.run_until_settled(old)
    unfinished = launch(store, settings, "unfinished")
    source = Path(store.pipeline(old).source_dir)
    log = Path(store.executions(old)[0].log_path)
    assert source.is_dir() and log.is_file()

    assert archive_old(store, settings) == [], "a fresh pipeline is kept"
    later = utcnow() + timedelta(days=31)
    assert archive_old(store, settings, now=later) == [old], "never an unfinished one"

    assert not source.exists() and not log.exists()
    assert not pipeline_dir(settings, old).exists()
    assert Path(store.pipeline(unfinished).source_dir).is_dir()
    assert store.pipeline(old).archived_at is not None
    assert pipeline_json(store, old)["nodes"][1]["executions"][0]["state"] == "done"
    assert [e.kind for e in store.events(old)][-1] == "archived"
    assert archive_old(store, settings, now=later) == [], "archived once"


def test_a_reset_of_an_archived_pipeline_says_to_start_a_new_one(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, retention_days=1)
    store = Store(settings.database_url)
    engine = Engine(store, FakeExecutor().expect("/a"), settings, poll_seconds=0.01)
    pipeline_id = launch(store, settings, "p")
    engine.run_until_settled(pipeline_id)
    archive_old(store, settings, now=utcnow() + timedelta(days=2))
    store.reset(pipeline_id, "/a")
    assert engine.run_until_settled(pipeline_id).state is State.ERROR
    [node] = [n for n in store.nodes(pipeline_id) if n.path == "/a"]
    assert "removed by retention" in node.message
