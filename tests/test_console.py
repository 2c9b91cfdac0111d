"""The terminal view of a pipeline: a tree redrawn in place on a TTY, plain lines elsewhere."""

from __future__ import annotations

import io
from pathlib import Path

from ci_bot.console import LiveView, failure_report
from ci_bot.engine.runner import Engine
from ci_bot.executors.fake import FakeExecutor
from ci_bot.settings import Settings
from ci_bot.store.store import Store
from tests.pipelines import create_pipeline

TREE = """
[pipeline.main]
image = "x"
[pipeline.main.lint]
parallel = true
[pipeline.main.lint.a]
run = "a"
[pipeline.main.lint.b]
run = "b"
[pipeline.main.deploy]
run = "deploy"
"""


def run_failing_pipeline(tmp_path: Path) -> tuple[Store, int]:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    pipeline_id = create_pipeline(store, TREE)
    fake = FakeExecutor().expect("/lint/a").expect("/lint/b", "error", output="boom\nline two\n")
    settings = Settings.from_env({}, data_dir=tmp_path)
    Engine(store, fake, settings, poll_seconds=0.01).run_until_settled(pipeline_id)
    return store, pipeline_id


def test_the_tree_shows_each_node_with_its_state(tmp_path: Path) -> None:
    store, pipeline_id = run_failing_pipeline(tmp_path)
    lines = LiveView(store, pipeline_id, io.StringIO(), tty=False).render()
    assert lines[0].startswith(f"pipeline {pipeline_id}")
    assert lines[1] == "/  ✘ error"
    assert lines[2] == "├── lint  ✘ error"
    assert lines[3].startswith("│   ├── a  ✔ done")
    assert lines[4].startswith("│   └── b  ✘ error") and "— exited with code 1" in lines[4]
    assert lines[5] == "└── deploy  · pending"


def test_a_tty_is_redrawn_in_place_and_a_pipe_gets_plain_lines(tmp_path: Path) -> None:
    store, pipeline_id = run_failing_pipeline(tmp_path)
    screen = io.StringIO()
    view = LiveView(store, pipeline_id, screen, tty=True)
    view.update()
    view.update()
    drawn = screen.getvalue()
    assert "\x1b[6F\x1b[J" in drawn, "the second frame moves up over the first"
    assert "\x1b[31m✘ error" in drawn
    pipe = io.StringIO()
    LiveView(store, pipeline_id, pipe, tty=False).update()
    plain = pipe.getvalue()
    assert "\x1b[" not in plain
    assert "/lint/b" in plain and "error exited with code 1" in plain


def test_the_failure_report_is_the_tail_of_each_failed_log(tmp_path: Path) -> None:
    store, pipeline_id = run_failing_pipeline(tmp_path)
    assert failure_report(store, pipeline_id) == [
        "── /lint/b: exited with code 1 ──",
        "boom",
        "line two",
    ]
