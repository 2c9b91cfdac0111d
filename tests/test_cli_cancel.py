"""Cancelling that cancels: Ctrl-C and SIGTERM on ``ci-bot run`` kill its containers,
mark the pipeline cancelled, say so in one line and exit 130 / 143; ``ci-bot cancel``
acts at once, by itself when no engine drives the pipeline, and says what it did.

Real subprocesses (``ci-bot run`` on a pty for Ctrl-C), real containers.
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.executors.base import LABEL_NODE
from ci_bot.store.store import Store
from tests.containers import ci_bot_command, containers_of, remove_leftovers
from tests.gitrepos import make_repo
from tests.test_cli_containers import read_until
from tests.test_cli_run import EVENT_LINE, Cli

pytestmark = pytest.mark.docker

SLOW = """
[[push]]
pipeline = "ci"
[pipeline.ci]
image = "{image}"
[pipeline.ci.first]
run = "echo first"
[pipeline.ci.slow]
run = "echo started; sleep 300"
[pipeline.ci.after]
run = "echo after"
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
def slow_repo(tmp_path: Path, busybox_image: str) -> Path:
    repo = tmp_path / "repo"
    make_repo(repo, {"conducto.cfg": SLOW.format(image=busybox_image)})
    return repo


def wait_for_slow(client: DockerClient, data_dir: Path) -> None:
    """Until /slow's container runs (its pipeline's, as ``containers_of`` tells ours)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for container in containers_of(client, 1, data_dir):
            if container.labels.get(LABEL_NODE) == "/slow" and container.status == "running":
                return
        time.sleep(0.2)
    pytest.fail("/slow's container never started")


def environment(cli: Cli) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env.update(CI_BOT_DATA_DIR=str(cli.data_dir), CI_BOT_SECRETS_FILE=str(cli.secrets_file))
    return env


def states(cli: Cli) -> dict[str, str]:
    shown = cli.json("show", "1", "--json")
    return {node["path"]: node["state"] for node in shown["nodes"]}


def start_run(cli: Cli, repo: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ci_bot_command(), "run", str(repo), "--branch", "main"],
        env=environment(cli),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_on_a_terminal_kills_the_containers_and_exits_130(
    cli: Cli, slow_repo: Path, docker_engine: DockerClient
) -> None:
    pid, terminal = pty.fork()
    if pid == 0:  # the child: ci-bot run on the pty, as a person types it
        os.execve(
            ci_bot_command()[0],
            [*ci_bot_command(), "run", str(slow_repo), "--branch", "main"],
            environment(cli),
        )
    shown = read_until(terminal, b"slow", 120)
    wait_for_slow(docker_engine, cli.data_dir)

    os.write(terminal, b"\x03")  # Ctrl-C: the terminal sends SIGINT
    shown += read_until(terminal, b"", 10)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 130, shown
    assert containers_of(docker_engine, 1, cli.data_dir) == []
    assert states(cli) == {
        "/": "cancelled",
        "/first": "done",
        "/slow": "cancelled",
        "/after": "cancelled",
    }
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode()).replace("\r", "")
    last = text.rstrip("\n").splitlines()[-1]
    assert last == "pipeline 1 cancelled (Ctrl-C): killed /slow; /after did not run"


def test_sigterm_kills_the_containers_and_exits_143_with_one_line(
    cli: Cli, slow_repo: Path, docker_engine: DockerClient
) -> None:
    run = start_run(cli, slow_repo)
    wait_for_slow(docker_engine, cli.data_dir)

    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)

    assert run.returncode == 143, out + err
    assert err == "pipeline 1 cancelled (SIGTERM): killed /slow; /after did not run\n"
    assert all(EVENT_LINE.match(line) for line in out.splitlines())  # plain lines, untouched
    assert containers_of(docker_engine, 1, cli.data_dir) == []
    assert states(cli)["/"] == "cancelled"


def test_cancel_kills_the_containers_itself_when_no_engine_drives_the_pipeline(
    cli: Cli, slow_repo: Path, docker_engine: DockerClient
) -> None:
    run = start_run(cli, slow_repo)
    wait_for_slow(docker_engine, cli.data_dir)
    run.send_signal(signal.SIGKILL)  # the engine dies; its container runs on
    run.communicate(timeout=60)
    assert containers_of(docker_engine, 1, cli.data_dir) != []

    cancelled = cli("cancel", "1", timeout=60)

    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout == (
        "cancelled pipeline 1: killed /slow (no engine was driving it); /after will not run\n"
    )
    assert containers_of(docker_engine, 1, cli.data_dir) == []
    assert states(cli)["/"] == "cancelled"
    log = cli("log", "1", "/slow")
    assert "started" in log.stdout.splitlines()  # the node's output, collected
    assert log.stdout.splitlines()[-1] == "[ci-bot] cancelled"


def test_cancel_of_a_pipeline_an_engine_drives_is_done_by_that_engine(
    cli: Cli, slow_repo: Path, docker_engine: DockerClient
) -> None:
    run = start_run(cli, slow_repo)
    wait_for_slow(docker_engine, cli.data_dir)

    cancelled = cli("cancel", "1", timeout=60)
    out, _ = run.communicate(timeout=60)

    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith("cancelled pipeline 1: ")
    assert cancelled.stdout.rstrip().endswith("/after will not run")
    assert "/slow" in cancelled.stdout
    assert run.returncode == 1
    assert "pipeline 1 cancelled in " in out
    assert containers_of(docker_engine, 1, cli.data_dir) == []
    refused = cli("cancel", "1")
    assert refused.stderr.strip() == (
        "Error: pipeline 1 has already finished (cancelled); nothing to cancel"
    )
