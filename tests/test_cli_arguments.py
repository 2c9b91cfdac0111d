"""What ``ci-bot`` says about what was typed, before any container runs: help on every
option, "did you mean" for events and node paths, a missing pipeline named as such,
``show`` and ``list`` of stored pipelines, and ``--data-dir``."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from ci_bot.cli import main
from ci_bot.store.records import NewPipeline
from ci_bot.store.store import Store
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from ci_bot.tree.treejson import dumps
from tests.containers import ci_bot_command
from tests.pipelines import create_pipeline, tree

TREE = """
[pipeline.main]
image = "x"
[pipeline.main.lint]
run = "lint"
[pipeline.main.test]
parallel = true
[pipeline.main.test.a]
run = "a"
[pipeline.main.test.b]
run = "b"
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    data_dir.mkdir()
    opened = Store(f"sqlite:///{data_dir / 'ci-bot.sqlite'}")
    yield opened
    opened.close()


def cli(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"CI_BOT_DATA_DIR": str(data_dir)})


def commands(group: click.Group, prefix: str = "ci-bot") -> Iterator[tuple[str, click.Command]]:
    """Every command and subcommand, imported (``ci-bot``'s own are imported on use)."""
    context = click.Context(group, info_name=prefix)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"{prefix} {name} is listed but cannot be loaded"
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix} {name}")


def test_every_option_of_every_command_says_what_it_does() -> None:
    lacking = [
        f"{name} {'/'.join(param.opts)}"
        for name, command in [("ci-bot", main), *commands(main)]
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert lacking == []
    assert [name for name, command in commands(main) if not command.help] == []


@pytest.mark.parametrize(
    "args",
    [
        ["plan", ".", "--event", "pull_request"],
        ["run", ".", "--event", "pull_request"],
        ["list", "--event", "pull_request"],
        ["secrets", "set", "acme/app", "TOKEN", "--event", "pull_request"],
        ["trigger", "acme/app", "--branch", "main", "--event", "pull_request", "--token", "t"],
    ],
)
def test_an_event_by_another_name_is_refused_with_the_one_meant(
    data_dir: Path, args: list[str]
) -> None:
    refused = cli(data_dir, *args)

    assert refused.exit_code == 2, refused.output
    assert "'pull_request' is not an event; events are pr, push," in refused.output
    assert "did you mean 'pr'?" in refused.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["skip", "1", "test/b"], "pipeline 1 has no node test/b; did you mean /test/b?"),
        (["unskip", "1", "/tset/a"], "pipeline 1 has no node /tset/a; did you mean /test/a?"),
        (["reset", "1", "lnt"], "pipeline 1 has no node lnt; did you mean /lint?"),
        (["log", "1", "test/a"], "pipeline 1 has no node test/a; did you mean /test/a?"),
        (["debug", "1", "test/a"], "pipeline 1 has no node test/a; did you mean /test/a?"),
        (["skip", "1", "/zzz/qqq"], "pipeline 1 has no node /zzz/qqq (its nodes: `ci-bot show 1`)"),
        (["skip", "99", "/x"], "no pipeline 99"),
        (["reset", "99", "/lint"], "no pipeline 99"),
        (["log", "99", "/lint"], "no pipeline 99"),
        (["cancel", "99"], "no pipeline 99"),
        (["log", "1", "/test"], "/test is a parallel: give one of its Execs"),
        (["log", "1", "/lint"], "/lint has not run (pending); -f waits for it"),
    ],
)
def test_a_wrong_pipeline_or_node_is_named_with_what_was_meant(
    data_dir: Path, store: Store, args: list[str], message: str
) -> None:
    create_pipeline(store, TREE)
    before = store.events(1)

    refused = cli(data_dir, *args)

    assert (refused.exit_code, refused.output.strip()) == (1, f"Error: {message}")
    assert store.events(1) == before  # nothing was written


def add(store: Store, event: Event, lint: State | None = None) -> int:
    """A pipeline of TREE for ``event``; its /lint ended in ``lint`` when given."""
    pipeline_id = create_pipeline(store, TREE, event)
    if lint is not None:
        execution = store.queue(pipeline_id, "/lint", "/logs")
        store.finish(execution.id, lint)
    return pipeline_id


@pytest.fixture
def three(store: Store) -> Store:
    add(store, Event("push", branch="main", sha="a" * 40, repo="acme/app"))
    add(store, Event("pr", branch="fix", pr="7", sha="b" * 40, repo="acme/app"), State.ERROR)
    root = tree(TREE)
    new = NewPipeline(
        repo="tools", event="push", branch="main", sha="c" * 40, tree_json=dumps(root), dirty=True
    )
    store.create_pipeline(new, root, {})
    return store


def test_list_filters_as_the_ui_does_and_marks_dirty_trees(data_dir: Path, three: Store) -> None:
    shown = cli(data_dir, "list")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].split() == [
        "ID", "STATE", "REPO", "EVENT", "REF", "COMMIT", "STARTED", "TOOK", "NODES",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == ["3", "2", "1"]  # newest first
    assert "cccccccccccc (dirty)" in lines[1]
    assert "#7 fix" in lines[2] and "✘ error" in lines[2]

    def ids(*args: str) -> list[int]:
        found = cli(data_dir, "list", "--json", *args)
        assert found.exit_code == 0, found.output
        return [p["id"] for p in json.loads(found.output)["pipelines"]]

    assert ids("--repo", "acme/app") == [2, 1]
    assert ids("--branch", "main") == [3, 1]
    assert ids("--event", "pr") == [2]
    assert ids("--pr", "#7") == [2]
    assert ids("--state", "error") == [2]
    assert ids("--limit", "1", "--page", "2") == [2]
    assert cli(data_dir, "list", "--repo", "nope").output == "no pipelines match\n"
    listed = json.loads(cli(data_dir, "list", "--json").output)["pipelines"]
    assert [p["dirty"] for p in listed] == [True, False, False]
    assert listed[1]["exec_counts"] == {"error": 1, "pending": 2}
    # times as the UI reckons them: no execution started, so no run time; wall time counts
    assert listed[2]["duration_seconds"] is None and listed[2]["wall_seconds"] >= 0
    assert re.search(r"  – \(\d+s wall\)", lines[3]), lines[3]


def test_show_without_an_id_shows_the_latest_pipelines(data_dir: Path, three: Store) -> None:
    assert cli(data_dir, "show").output == cli(data_dir, "list").output
    latest = json.loads(cli(data_dir, "show", "--json").output)
    assert [p["id"] for p in latest["pipelines"]] == [3, 2, 1]
    shown = cli(data_dir, "show", "3")
    assert shown.output.splitlines()[0] == "pipeline 3  tools  push main  cccccccccccc (dirty)"
    assert json.loads(cli(data_dir, "show", "3", "--json").output)["dirty"] is True


def test_an_empty_data_dir_lists_nothing_yet(data_dir: Path) -> None:
    assert cli(data_dir, "show").output == "no pipelines yet: `ci-bot run DIR`\n"


def test_data_dir_sets_the_data_dir_for_the_command(tmp_path: Path, three: Store) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env["CI_BOT_DATA_DIR"] = str(tmp_path / "elsewhere")
    data = tmp_path / "data"

    listed = subprocess.run(
        [*ci_bot_command(), "--data-dir", str(data), "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["total"] == 3
    assert not (tmp_path / "elsewhere").exists()
