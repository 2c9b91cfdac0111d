"""``ci-bot run``, ``resume``, ``reset``, ``show``, ``skip``, ``unskip`` and ``cancel`` as a
person types them: real subprocesses, real containers, the sample repository.

Every command runs as its own process against one data dir (CI_BOT_DATA_DIR), so
what one command writes, the next one reads from the store, as it would for a person.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from docker import DockerClient

from ci_bot.executors.images import BUSYBOX_IMAGE
from ci_bot.store.store import Store
from tests.conftest import REPO_ROOT
from tests.containers import ci_bot_command, remove_leftovers, started_nodes
from tests.gitrepos import make_repo

pytestmark = pytest.mark.docker

SAMPLE = REPO_ROOT / "examples" / "sample-app"
SIGNING_KEY = "demo-signing-key-2718281828"
SAMPLE_EXECS = ["/lint/compile", "/lint/style", "/build", "/test/unit", "/test/smoke", "/sign"]
SAMPLE_NODES = ["/", "/lint", *SAMPLE_EXECS[:3], "/test", *SAMPLE_EXECS[3:], "/deploy"]
EVENT_LINE = re.compile(r"^\d\d:\d\d:\d\d  (/\S*)\s+(.*)$")

# A unit test that needs a fixture the pipeline's data store lacks: the cause a person
# fixes outside the commit, before `ci-bot reset` and `ci-bot resume`.
NEEDS_FIXTURE = """

class FixtureTest(unittest.TestCase):
    def test_fixture_is_ready(self) -> None:
        ready = os.path.join(os.environ["CI_DATA"], "fixture-ready")
        self.assertTrue(os.path.exists(ready), "fixture-ready is missing from $CI_DATA")
"""


@dataclass
class Cli:
    """``ci-bot`` in a subprocess, with its own data dir and secrets file."""

    data_dir: Path
    secrets_file: Path

    def environment(self) -> dict[str, str]:
        """The environment a ``ci-bot`` of this data dir runs with (none of the shell's
        CI_BOT_* settings)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
        env.update(
            CI_BOT_DATA_DIR=str(self.data_dir),
            CI_BOT_SECRETS_FILE=str(self.secrets_file),
            CI_BOT_MAX_PARALLEL="2",
        )
        return env

    def __call__(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ci_bot_command(), *map(str, args)],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def json(self, *args: str | Path) -> dict[str, Any]:
        done = self(*args)
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def data(self, pipeline_id: int) -> Path:
        return self.data_dir / "pipelines" / str(pipeline_id) / "data"

    def starts(self, docker: DockerClient, pipeline_id: int, since: float) -> list[str]:
        """The node of every container of the pipeline started since ``since``, sorted."""
        shown = self.json("show", str(pipeline_id), "--json")
        ours = [(e["id"], n["path"]) for n in shown["nodes"] for e in n.get("executions", [])]
        return started_nodes(docker, pipeline_id, since, ours)


@pytest.fixture
def cli(
    tmp_path: Path, docker_engine: DockerClient, python_image: str, busybox_image: str
) -> Iterator[Cli]:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"DEMO_SIGNING_KEY={SIGNING_KEY}\n")
    runner = Cli(tmp_path / "data", secrets)
    yield runner
    database = runner.data_dir / "ci-bot.sqlite"
    if database.exists():
        store = Store(f"sqlite:///{database}")
        pipeline_ids = [pipeline.id for pipeline in store.pipelines()]
        store.engine.dispose()
        leftovers = remove_leftovers(docker_engine, pipeline_ids, runner.data_dir)
        assert not leftovers, f"containers left behind: {leftovers}"


def copy_sample(tmp_path: Path) -> Path:
    target = tmp_path / "sample-app"
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def commit_sample(tmp_path: Path) -> tuple[Path, str]:
    """The sample as a git repository of its own, committed; (path, sha)."""
    target = copy_sample(tmp_path)
    return target, make_repo(target, {}, message="greeter: first release")


def node(pipeline: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = next(n for n in pipeline["nodes"] if n["path"] == path)
    return found


def attempts(pipeline: dict[str, Any], path: str) -> list[tuple[int, str]]:
    return [(e["attempt"], e["state"]) for e in node(pipeline, path)["executions"]]


def test_run_prints_plain_lines_and_exits_0_when_done(cli: Cli) -> None:
    done = cli("run", SAMPLE, "--branch", "main")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "\x1b" not in done.stdout  # not a TTY: no colours, no redrawing
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"pipeline 1 done in \S+( \(\S+ wall\))?", lines[-1])
    events = [m.groups() for m in map(EVENT_LINE.match, lines[:-1]) if m]
    assert len(events) == len(lines) - 1, "every line before the last is one event"
    assert events.index(("/build", "done")) < events.index(("/test/unit", "queued attempt 1"))
    assert events[-1] == ("/", "finished done")
    logs = "".join(p.read_text() for p in (cli.data_dir / "pipelines").rglob("*.log"))
    assert "(the key is masked in this log: ***)" in logs
    assert SIGNING_KEY not in logs
    assert list((cli.data_dir / "cache").rglob("greeter.pyz")), "deploy installs the artifact"


def test_run_json_prints_the_pipeline_object(cli: Cli, tmp_path: Path) -> None:
    repo, sha = commit_sample(tmp_path)

    pipeline = cli.json("run", repo, "--json")  # the branch: the one checked out

    keys = ("id", "state", "repo", "event", "branch", "sha", "title")
    assert {k: pipeline[k] for k in keys} == {
        "id": 1,
        "state": "done",
        "repo": "sample-app",
        "event": "push",
        "branch": "main",
        "sha": sha,
        "title": "greeter: first release",
    }
    assert [n["path"] for n in pipeline["nodes"]] == SAMPLE_NODES
    for item in pipeline["nodes"]:
        assert item["state"] == "done" and item["type"] in ("serial", "parallel", "exec")
        if item["type"] != "exec":
            continue
        [execution] = item["executions"]
        assert execution["attempt"] == 1 and execution["state"] == "done"
        assert execution["exit_code"] == 0 and execution["reused_from"] is None
        assert execution["started_at"] <= execution["ended_at"]
        assert execution["ended_at"].endswith("Z")
    assert cli.json("show", "1", "--json") == pipeline


def test_a_failed_node_is_reported_then_reset_and_resumed(
    cli: Cli, tmp_path: Path, docker_engine: DockerClient
) -> None:
    repo = copy_sample(tmp_path)
    tests = repo / "tests" / "test_greet.py"
    main_guard = "\n\nif __name__"
    tests.write_text(
        "import os\n" + tests.read_text().replace(main_guard, NEEDS_FIXTURE + main_guard)
    )

    failed = cli("run", repo, "--branch", "main")

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "── /test/unit: exited with code 1 ──" in failed.stdout
    assert "AssertionError: False is not true : fixture-ready is missing from $CI_DATA" in (
        failed.stdout
    )
    assert re.search(r"^pipeline 1 error in \S+( \(\S+ wall\))?$", failed.stdout, re.MULTILINE)
    assert failed.stdout.splitlines()[-1] == (
        "fix the cause, then `ci-bot reset 1 /test/unit` and `ci-bot resume 1`; "
        "a fix to the code needs a new run: `ci-bot rerun 1 --at HEAD` once committed"
    )
    before = cli.json("show", "1", "--json")
    assert node(before, "/test/unit")["state"] == "error"
    assert node(before, "/sign")["executions"] == node(before, "/deploy")["executions"] == []

    (cli.data(1) / "fixture-ready").touch()
    since = time.time()
    reset = cli("reset", "1", "/test/unit")
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.splitlines() == [
        "reset /test/unit: 1 Exec to run again",
        "no engine is driving it now: `ci-bot resume 1` continues it here",
    ]
    resumed = cli("resume", "1")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert re.search(r"^pipeline 1 done in \S+( \(\S+ wall\))?$", resumed.stdout, re.MULTILINE)
    assert cli.starts(docker_engine, 1, since) == ["/deploy", "/sign", "/test/unit"]
    after = cli.json("show", "1", "--json")
    assert after["state"] == "done"
    assert attempts(after, "/test/unit") == [(1, "error"), (2, "done")]
    for path in [*SAMPLE_EXECS, "/deploy"]:
        if path != "/test/unit":
            assert attempts(after, path) == [(1, "done")], path
    for path in ("/lint/compile", "/build", "/test/smoke"):  # untouched by the reset
        assert node(after, path)["executions"] == node(before, path)["executions"]


def test_skip_unskip_and_cancel_on_a_finished_pipeline(
    cli: Cli, docker_engine: DockerClient
) -> None:
    assert cli("run", SAMPLE, "--branch", "feature").returncode == 0
    before = cli.json("show", "1", "--json")
    assert node(before, "/deploy")["state"] == "skipped"  # when = "{branch} == main"

    refusals = {
        ("cancel", "1"): "pipeline 1 has already finished (done); nothing to cancel",
        ("skip", "1", "/build"): "/build is done: only a node still pending can be skipped",
        ("skip", "1", "/deploy"): "/deploy is already skipped",
        ("unskip", "1", "/build"): "/build is not skipped",
        ("skip", "1", "/nope"): "pipeline 1 has no node /nope (its nodes: `ci-bot show 1`)",
        ("cancel", "7"): "no pipeline 7",
    }
    for args, message in refusals.items():
        refused = cli(*args)
        assert (refused.returncode, refused.stderr.strip()) == (1, f"Error: {message}"), args
    assert cli.json("show", "1", "--json") == before  # nothing was written

    since = time.time()
    unskipped = cli("unskip", "1", "/deploy")  # the release gate: a person lets it run
    assert unskipped.returncode == 0, unskipped.stderr
    assert unskipped.stdout.splitlines()[0] == "unskipped /deploy"
    assert "`ci-bot resume 1` continues it here" in unskipped.stdout
    resumed = cli("resume", "1")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert cli.starts(docker_engine, 1, since) == ["/deploy"]
    assert attempts(cli.json("show", "1", "--json"), "/deploy") == [(1, "done")]


GREETER = f"""
[push]
pipeline = "main"

[pipeline.main]
image = "{BUSYBOX_IMAGE}"
[pipeline.main.greet]
run = "echo 'hello from the old command'; exit 3"
[pipeline.main.after]
run = "echo after"
"""


def test_reset_with_a_new_command_runs_it_and_records_the_change(cli: Cli, tmp_path: Path) -> None:
    repo = tmp_path / "greeter"
    repo.mkdir()
    (repo / "conducto.cfg").write_text(GREETER)
    assert cli("run", repo, "--branch", "main").returncode == 1
    before = cli.json("show", "1", "--json")

    refusals = {
        "/": "/ is a serial: only an Exec has a command to change; "
        "reset one of its Execs with --run",
        "/greet": "the new command is empty: give the command the node should run",
    }
    for path, message in refusals.items():
        refused = cli("reset", "1", path, "--run", " " if path == "/greet" else "echo hi")
        assert (refused.returncode, refused.stderr.strip()) == (1, f"Error: {message}"), path
    assert cli.json("show", "1", "--json") == before  # nothing was written

    new_command = "echo 'hello from the new command'"
    reset = cli("reset", "1", "/greet", "--run", new_command)
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.splitlines()[:2] == [
        "reset /greet: 1 Exec to run again",
        f"/greet now runs: {new_command}  (was: echo 'hello from the old command'; exit 3)",
    ]
    resumed = cli("resume", "1")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "new command: echo 'hello from the new command' (was: " in resumed.stdout
    after = cli.json("show", "1", "--json")
    assert after["state"] == "done"
    first, second = node(after, "/greet")["executions"]
    assert first == node(before, "/greet")["executions"][0]  # the failed one untouched
    assert (first["command_change"], second["state"]) == (None, "done")
    assert second["command_change"] == {
        "by": getpass.getuser(),
        "old": "echo 'hello from the old command'; exit 3",
        "new": new_command,
    }
    logs = cli.data_dir / "pipelines" / "1" / "logs"
    assert "hello from the old command" in (logs / f"{first['id']}.log").read_text()
    assert "hello from the new command" in (logs / f"{second['id']}.log").read_text()


def test_a_broken_config_exits_2_naming_file_line_and_key(cli: Cli, tmp_path: Path) -> None:
    repo = copy_sample(tmp_path)
    config = repo / "conducto.cfg"
    text = config.read_text()
    text = text.replace('run = "python3 -m compileall', 'runn = "python3 -m compileall')
    config.write_text(text.replace('timeout = "5m"', 'timeout = "5 minutes"'))
    lines = text.splitlines()
    runn_line = 1 + next(i for i, line in enumerate(lines) if line.startswith("runn = "))
    timeout_line = 1 + next(i for i, line in enumerate(lines) if line.startswith("timeout = "))

    broken = cli("run", repo, "--branch", "main")

    assert broken.returncode == 2
    problems = broken.stderr.splitlines()
    assert re.fullmatch(rf"conducto\.cfg:{timeout_line}: pipeline\.ci\.timeout: .+", problems[0])
    assert problems[1] == (
        f"conducto.cfg:{runn_line}: pipeline.ci.lint.compile.runn: "
        "unknown key 'runn' for a node; did you mean 'run'?"
    )
    assert cli("show", "1").returncode == 1  # no pipeline was stored


def test_an_event_no_entry_matches_exits_1_saying_why(cli: Cli, tmp_path: Path) -> None:
    tag = cli("run", SAMPLE, "--event", "create-tag", "--tag", "v1.0")

    assert tag.returncode == 1
    assert tag.stderr.strip() == (
        "Error: no [create-tag] section in the config (sections: [pr], [push])"
    )

    repo = tmp_path / "releases-only"
    repo.mkdir()
    (repo / "conducto.cfg").write_text(
        '[[push]]\nfilter = "{branch} == release/*"\n\n'
        '[pipeline.main]\nimage = "ci-bot-test/busybox:latest"\n'
        '[pipeline.main.hello]\nrun = "echo hello"\n'
    )
    push = cli("run", repo, "--branch", "main")

    assert push.returncode == 1
    assert push.stderr.startswith("Error: no [push] entry matched:\n")
    assert "filter '{branch} == release/*' is false" in push.stderr
    assert cli("show", "1").returncode == 1
