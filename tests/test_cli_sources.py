"""What a pipeline runs, from the command line: a working tree as it is (recorded as dirty
when it has uncommitted changes), a commit of it (``run --sha``), the event's values
``plan`` takes; and, once it failed, the fix: a reset reruns the pipeline's own
snapshot, ``rerun --at HEAD`` runs the committed fix as a new pipeline.

Real subprocesses, real git, real containers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker import DockerClient

from ci_bot.store.store import Store
from tests.containers import remove_leftovers
from tests.gitrepos import commit_files, make_repo
from tests.test_cli_run import Cli

pytestmark = pytest.mark.docker

VERSIONED = """
[[push]]
pipeline = "ci"
[pr]
filter = "{{base_branch}} == main"
pipeline = "ci"

[pipeline.ci]
image = "{image}"
[pipeline.ci.show]
run = "cat version.txt"
[pipeline.ci.check]
run = "grep -q good version.txt"
[pipeline.ci.alice]
run = "echo for alice"
when = "{{author}} == alice"
"""


@pytest.fixture
def cli(tmp_path: Path, docker_engine: DockerClient, busybox_image: str) -> Iterator[Cli]:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("")
    runner = Cli(tmp_path / "data", secrets)
    yield runner
    database = runner.data_dir / "ci-bot.sqlite"
    if database.exists():
        store = Store(f"sqlite:///{database}")
        pipeline_ids = [pipeline.id for pipeline in store.pipelines()]
        store.engine.dispose()
        leftovers = remove_leftovers(docker_engine, pipeline_ids, runner.data_dir)
        assert not leftovers, f"containers left behind: {leftovers}"


@pytest.fixture
def repo(tmp_path: Path, busybox_image: str) -> Path:
    path = tmp_path / "app"
    config = VERSIONED.format(image=busybox_image)
    make_repo(path, {"conducto.cfg": config, "version.txt": "1 bad\n"}, message="v1")
    return path


def shown(cli: Cli, pipeline_id: int) -> dict[str, Any]:
    return cli.json("show", str(pipeline_id), "--json")


def node_state(pipeline: dict[str, Any], path: str) -> str:
    return str(next(n["state"] for n in pipeline["nodes"] if n["path"] == path))


def printed(cli: Cli, pipeline_id: int, path: str = "/show") -> str:
    done = cli("log", str(pipeline_id), path)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_working_tree_with_uncommitted_changes_is_recorded_as_dirty(cli: Cli, repo: Path) -> None:
    head = commit_files(repo, {"version.txt": "2 good\n"}, "v2")
    (repo / "version.txt").write_text("3 good, not committed\n")

    dirty = cli.json("run", repo, "--json")
    v1 = cli("run", repo, "--sha", "HEAD~1", "--json")
    committed = json.loads(v1.stdout)

    assert (dirty["sha"], dirty["dirty"]) == (head, True)
    assert printed(cli, 1) == "3 good, not committed\n"
    assert cli("show", "1").stdout.splitlines()[0] == (
        f"pipeline 1  app  push main  {head[:12]} (dirty)"
    )
    listed = cli("list").stdout.splitlines()
    assert f"{head[:12]} (dirty)" in listed[2]  # pipeline 1, below pipeline 2
    assert committed["dirty"] is False and committed["sha"] != head
    assert committed["title"] == "v1"
    assert printed(cli, 2) == "1 bad\n"
    assert (v1.returncode, committed["state"]) == (1, "error")  # v1's check: it ran v1
    again = cli("rerun", "1", "--json")  # the same snapshot, uncommitted changes and all
    assert json.loads(again.stdout)["dirty"] is True
    assert printed(cli, 3) == "3 good, not committed\n"


def test_run_takes_the_event_values_plan_takes(cli: Cli, repo: Path) -> None:
    commit_files(repo, {"version.txt": "2 good\n"}, "v2")
    args = ["--event", "pr", "--branch", "fix", "--base-branch", "main", "--pr", "7"]
    pipeline = cli.json("run", repo, *args, "--author", "alice", "--repo", "acme/app", "--json")

    assert {k: pipeline[k] for k in ("event", "branch", "pr", "repo")} == {
        "event": "pr",
        "branch": "fix",
        "pr": "7",
        "repo": "acme/app",
    }
    assert node_state(pipeline, "/alice") == "done"  # {author} == alice held
    other = cli("run", repo, *args[:4], "--base-branch", "release", "--pr", "7")
    assert other.returncode == 1
    assert "filter '{base_branch} == main' is false" in other.stderr
    planned = cli("plan", repo, *args, "--author", "bob", "--json")
    assert json.loads(planned.stdout)["skipped"][0]["path"] == "/alice"


def test_a_reset_reruns_the_snapshot_and_rerun_at_head_runs_the_committed_fix(
    cli: Cli, repo: Path
) -> None:
    failed = cli("run", repo)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stdout.splitlines()[-1] == (
        "fix the cause, then `ci-bot reset 1 /check` and `ci-bot resume 1`; a fix to the "
        "code needs a new run: `ci-bot rerun 1 --at HEAD` once committed"
    )
    fixed = commit_files(repo, {"version.txt": "2 good\n"}, "v2: the fix")

    assert cli("reset", "1", "/check").returncode == 0
    resumed = cli("resume", "1")
    assert resumed.returncode == 1, "a reset runs the pipeline's own snapshot: still v1"

    rerun = cli("rerun", "1", "--at", "HEAD")

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert rerun.stdout.splitlines()[0] == f"pipeline 2 reruns pipeline 1 at {fixed[:12]}"
    again = shown(cli, 2)
    assert (again["sha"], again["title"], again["state"]) == (fixed, "v2: the fix", "done")
    assert printed(cli, 2) == "2 good\n"
    assert shown(cli, 1)["state"] == "error", "the old pipeline is left as it was"

    same = cli("rerun", "1")  # no --at: the same source again
    assert same.returncode == 1
    first = shown(cli, 1)["sha"]
    assert same.stdout.splitlines()[0] == f"pipeline 3 reruns pipeline 1 at {first[:12]}"
    assert printed(cli, 3) == "1 bad\n"
    nowhere = cli("rerun", "1", "--at", "no-such-branch")
    assert nowhere.returncode == 1
    assert "no-such-branch is not a commit in" in nowhere.stderr
