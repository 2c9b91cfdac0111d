"""``ci-bot`` starts light: a command imports only what it uses.

``--version``, ``--help``, ``validate`` and ``plan`` load neither the store
(SQLAlchemy) nor Docker's client nor Flask; ``cancel`` of a pipeline that a live
engine drives loads the store but not the engine or Docker.  ``--help`` still lists
every command with its own short help, from ``cli.COMMANDS`` (checked here against
the commands themselves, so the two cannot drift).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ci_bot import __version__
from ci_bot.cli import COMMANDS, load, main
from ci_bot.cli_cancel import driven_elsewhere
from ci_bot.executors.images import BUSYBOX_IMAGE
from ci_bot.store.store import Store
from ci_bot.tree.states import State
from tests.gitrepos import make_repo
from tests.pipelines import create_pipeline

HEAVY = [
    "sqlalchemy",
    "alembic",
    "docker",
    "flask",
    "werkzeug",
    "celery",
    "rich",
    "github",  # PyGithub
    "git",  # GitPython
    "cryptography",
    "requests",
    "prometheus_client",
    "ci_bot.engine.runner",
    "ci_bot.executors.docker",
]
NOT_FOR_CANCEL = [name for name in HEAVY if name not in ("sqlalchemy",)]

TREE = """
[pipeline.main]
image = "x"
[pipeline.main.lint]
run = "lint"
[pipeline.main.after]
run = "after"
"""
CONFIG = '\n[[push]]\npipeline = "main"' + TREE

# Runs ci-bot's main with the arguments (JSON), then writes which of HEAVY it imported.
PROBE = """
import json, sys
from ci_bot.cli import main
sys.argv = ["ci-bot", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exit:
    code = exit.code
with open(LOADED, "w") as out:
    json.dump(sorted(name for name in HEAVY if name in sys.modules), out)
sys.exit(code)
"""


def run_probe(
    tmp_path: Path, args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``ci-bot ARGS`` in a fresh interpreter; its result and the heavy modules it loaded."""
    loaded = tmp_path / "loaded.json"
    script = f"LOADED = {str(loaded)!r}\nHEAVY = {HEAVY!r}\n{PROBE}"
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, json.loads(loaded.read_text())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    directory = tmp_path / "repo"
    directory.mkdir()
    (directory / "conducto.cfg").write_text(CONFIG)
    return directory


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["validate"],
        ["plan", "--event", "push", "--branch", "main"],
        ["plan", "--event", "push", "--branch", "main", "--json"],
        ["validate", "--help"],
    ],
)
def test_light_commands_load_no_store_docker_or_web(
    tmp_path: Path, repo: Path, args: list[str]
) -> None:
    done, loaded = run_probe(tmp_path, args, cwd=repo)

    assert done.returncode == 0, done.stderr
    assert loaded == []


def test_the_version_is_the_installed_packages() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(main, ["--version"], prog_name="ci-bot")

    assert result.output == f"ci-bot, version {version('ci-bot')}\n"
    assert __version__ == version("ci-bot")


def test_help_lists_every_command_with_its_own_short_help() -> None:
    for name, entry in COMMANDS.items():
        command = load(entry)
        # what `--help` shortens: the docstring's first sentence
        assert entry.help == command.get_short_help_str(10_000), name


@pytest.mark.parametrize("width", [50, 80, 120, 200])
def test_help_reads_as_if_every_command_were_imported(width: int) -> None:
    def listing(format_commands: object) -> str:
        context = click.Context(main, info_name="ci-bot", terminal_width=width)
        formatter = context.make_formatter()
        format_commands(context, formatter)  # type: ignore[operator]
        return formatter.getvalue()

    lazily = listing(main.format_commands)
    # click's own listing imports each command to ask it
    eagerly = listing(lambda c, f: click.Group.format_commands(main, c, f))

    assert lazily == eagerly
    assert all(f"  {name} " in lazily for name in COMMANDS)


def test_every_listed_command_runs_its_own_help(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in COMMANDS:
        shown = runner.invoke(main, [name, "--help"], prog_name="ci-bot")
        assert shown.exit_code == 0, (name, shown.output)
        assert shown.output.startswith(f"Usage: ci-bot {name} "), name


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'data' / 'ci-bot.sqlite'}")
    yield opened
    opened.close()


def running_pipeline(store: Store, owner: str, ttl: float = 600) -> int:
    """A pipeline whose /lint runs (in a container of ``owner``'s engine, say)."""
    pipeline_id = create_pipeline(store, TREE)
    assert store.claim(pipeline_id, owner, ttl)
    execution = store.queue(pipeline_id, "/lint", "/logs")
    store.mark_running(execution.id, "container-of-lint")
    return pipeline_id


def test_cancel_of_a_pipeline_a_live_engine_drives_only_writes_the_wish(
    tmp_path: Path, store: Store
) -> None:
    owner = f"{socket.gethostname()}:{os.getpid()}:tests"  # this test's process: alive
    pipeline_id = running_pipeline(store, owner)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env["CI_BOT_DATA_DIR"] = str(tmp_path / "data")

    done, loaded = run_probe(tmp_path, ["cancel", str(pipeline_id)], env=env)

    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"cancelled pipeline {pipeline_id}: the engine driving it ({owner}) is killing /lint; "
        "/after will not run\n"
    )
    assert [n for n in loaded if n in NOT_FOR_CANCEL] == []
    assert [e.path for e in store.kill_requests(pipeline_id)] == ["/lint"]
    assert {n.path: n.state for n in store.nodes(pipeline_id)}["/after"] is State.CANCELLED
    assert store.pipeline(pipeline_id).lease_owner == owner  # still that engine's


def test_a_pipeline_is_driven_elsewhere_only_under_a_live_owners_lease(store: Store) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    here = socket.gethostname()

    alive = running_pipeline(store, f"{here}:{os.getpid()}:a")
    dead = running_pipeline(store, f"{here}:{gone.pid}:b")
    expired = running_pipeline(store, f"{here}:{os.getpid()}:c", ttl=-1)
    elsewhere = running_pipeline(store, "another-host:1:d")
    free = create_pipeline(store, TREE)

    assert driven_elsewhere(store.pipeline(alive))
    assert not driven_elsewhere(store.pipeline(dead))
    assert not driven_elsewhere(store.pipeline(expired))
    assert driven_elsewhere(store.pipeline(elsewhere))  # its host alone can tell
    assert not driven_elsewhere(store.pipeline(free))


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"github_token": "t"},
        {"github_app_id": "7"},
        {"github_app_id": "7", "github_private_key_file": "key.pem"},
        {"github_private_key_file": "key.pem", "github_token": "t"},
    ],
)
def test_run_wires_github_exactly_when_the_api_would_be_made(
    tmp_path: Path, values: dict[str, str]
) -> None:
    from ci_bot.services import github_configured
    from ci_bot.settings import Settings
    from integrations.github.auth import token_source

    (tmp_path / "key.pem").write_text("not read here")
    given = {k: tmp_path / v if k.endswith("_file") else v for k, v in values.items()}
    settings = Settings.from_env({}, data_dir=tmp_path, **given)

    assert github_configured(settings) == (token_source(settings) is not None)


REUSED = f"""
[push]
[pipeline.main]
image = "{BUSYBOX_IMAGE}"
reuse = {{ inputs = ["README.md"], outputs = [] }}
[pipeline.main.one]
run = "true one"
[pipeline.main.two]
run = "true two"
"""


@pytest.mark.docker
def test_a_fully_reused_run_never_loads_dockers_client_or_gitpython(tmp_path: Path) -> None:
    """Each reused node asks the engine only for its image's id, over the socket; nothing
    ran, so nothing is counted for /metrics, and no secret is decrypted."""
    repo = tmp_path / "reused"
    make_repo(repo, {"conducto.cfg": REUSED, "README.md": "same\n"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env["CI_BOT_DATA_DIR"] = str(tmp_path / "data")
    args = ["run", str(repo), "--branch", "main", "--json"]
    first, _ = run_probe(tmp_path, args, env=env)
    assert first.returncode == 0, first.stderr

    second, loaded = run_probe(tmp_path, args, env=env)

    assert second.returncode == 0, second.stderr
    shown = json.loads(second.stdout)
    executions = [e for node in shown["nodes"] for e in node.get("executions", [])]
    assert shown["state"] == "done"
    assert len(executions) == 2 and all(e["reused_from"] for e in executions)
    assert [n for n in loaded if n in ("docker", "requests", "ci_bot.executors.docker")] == []
    assert "git" not in loaded  # GitPython: a work tree is read with git itself
    assert [n for n in loaded if n in ("prometheus_client", "cryptography")] == []
    assert "rich" not in loaded  # --json draws no terminal
