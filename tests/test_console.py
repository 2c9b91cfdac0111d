"""The terminal view of a pipeline: a tree redrawn in place on a TTY, plain lines elsewhere."""

from __future__ import annotations

import io
import re
from pathlib import Path

from ci_bot.console import LiveView, Row, failure_report, fit_rows, hidden_summary
from ci_bot.engine.runner import Engine
from ci_bot.executors.fake import FakeExecutor
from ci_bot.settings import Settings
from ci_bot.store.store import Store
from ci_bot.tree.states import State
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
    with LiveView(store, pipeline_id, screen, tty=True, size=(80, 24)) as view:
        view.update()
        view.update()
    drawn = screen.getvalue()
    assert "\x1b[1A\x1b[2K" in drawn, "the second frame moves up over the first"
    assert "\x1b[31m✘ error" in drawn
    assert drawn.count("pipeline 1") == 3  # two frames, and the last one left whole
    pipe = io.StringIO()
    LiveView(store, pipeline_id, pipe, tty=False).update()
    plain = pipe.getvalue()
    assert "\x1b[" not in plain
    assert "/lint/b" in plain and "error exited with code 1" in plain


WIDE = "\n".join(
    ["[pipeline.main]", 'image = "x"']
    + [f'[pipeline.main.step-{i:02}]\nrun = "{"x" * 90}"' for i in range(30)]
)


def frames(drawn: str) -> list[list[str]]:
    """Each frame a redraw wrote, as its lines without escape sequences."""
    pieces = re.split(r"\r?\x1b\[2K(?:\x1b\[1A\x1b\[2K)*", drawn)
    plain = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", piece) for piece in pieces]
    return [piece.rstrip("\n").split("\n") for piece in plain if piece.strip()]


def test_a_tall_wide_tree_fits_the_terminal_keeping_what_runs(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    pipeline_id = create_pipeline(store, WIDE)
    for step in range(25):  # done, but /step-27 runs and /step-29 failed
        execution = store.queue(pipeline_id, f"/step-{step:02}", "/logs")
        store.finish(execution.id, State.DONE)
    store.mark_running(store.queue(pipeline_id, "/step-27", "/logs").id, "c1")
    store.finish(store.queue(pipeline_id, "/step-29", "/logs").id, State.ERROR)
    screen = io.StringIO()

    with LiveView(store, pipeline_id, screen, tty=True, size=(60, 12)) as view:
        view.update()
        view.update()

    *live, last = frames(screen.getvalue())
    for frame in live:
        assert len(frame) <= 11, "a row is left for the cursor: the top never scrolls away"
        assert all(len(line) <= 60 for line in frame), "no line wraps"
        assert frame[0].startswith("pipeline 1  acme/app")
        assert any("step-27" in line and "running" in line for line in frame)
        assert any("step-29" in line and "error" in line for line in frame)
        assert frame[-1] == "… 22 more nodes: 19 done, 3 pending"[: len(frame[-1])]
    assert len(last) == 32, "the final frame is the whole tree"


def test_fit_rows_keeps_the_root_and_what_a_person_waits_on() -> None:
    states = [State.RUNNING, *[State.DONE] * 5, State.ERROR, State.PENDING]
    rows = [Row(f"/{i}", f"n{i}  ", state.value, state) for i, state in enumerate(states)]

    shown, hidden = fit_rows(rows, 4)

    assert [row.path for row in shown] == ["/0", "/1", "/6"]
    assert [row.path for row in hidden] == ["/2", "/3", "/4", "/5", "/7"]
    assert hidden_summary(hidden) == "5 more nodes: 4 done, 1 pending"
    assert fit_rows(rows, 8) == (rows, [])


def test_the_failure_report_is_the_tail_of_each_failed_log(tmp_path: Path) -> None:
    store, pipeline_id = run_failing_pipeline(tmp_path)
    assert failure_report(store, pipeline_id) == [
        "── /lint/b: exited with code 1 ──",
        "boom",
        "line two",
    ]
