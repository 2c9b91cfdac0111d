"""The live tree in a real terminal: ``ci-bot run`` in an 80×24 tmux pane, a tree taller and
wider than the pane.  Not one line wraps, and the scrollback holds the header once (a
redraw taller than the screen would leave a stale copy of it behind each time)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.store.store import Store
from tests.conftest import require
from tests.containers import ci_bot_command, remove_leftovers
from tests.gitrepos import make_repo

pytestmark = pytest.mark.docker

WIDTH, HEIGHT = 80, 24
NAME = "a-node-with-a-name-long-enough-to-push-its-line-past-the-edge"


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[list[str]]:
    """``tmux`` on a server of this test's own (never a person's session)."""
    require(shutil.which("tmux") is not None, "tmux is not installed (Debian's tmux)")
    command = ["tmux", "-L", f"ci-bot-test-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
    yield command
    subprocess.run([*command, "kill-server"], capture_output=True, check=False)


def test_the_live_tree_fits_an_80x24_terminal(
    tmux: list[str], tmp_path: Path, docker_engine: DockerClient, busybox_image: str
) -> None:
    repo = tmp_path / "repo"
    steps = "".join(f'[pipeline.ci.many.{NAME}-{i:02}]\nrun = "sleep 0.2"\n' for i in range(30))
    make_repo(
        repo,
        {
            "conducto.cfg": f'[[push]]\npipeline = "ci"\n[pipeline.ci]\nimage = "{busybox_image}"\n'
            f"[pipeline.ci.many]\nparallel = true\n{steps}"
        },
    )
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env.update(CI_BOT_DATA_DIR=str(data), CI_BOT_MAX_PARALLEL="4", TERM="xterm-256color")
    run = shlex.join([*ci_bot_command(), "run", str(repo)])
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", "run",
         f"{run}; echo EXIT=$?; sleep 600"],
        env=env,
        check=True,
    )  # fmt: skip

    try:
        scrollback = wait_for(tmux, "EXIT=", seconds=300)
    finally:
        store = Store(f"sqlite:///{data / 'ci-bot.sqlite'}")
        pipeline_ids = [pipeline.id for pipeline in store.pipelines()]
        store.close()
        assert not remove_leftovers(docker_engine, pipeline_ids, data)

    assert "EXIT=0" in scrollback
    lines = scrollback.splitlines()
    assert [line for line in lines if len(line) > WIDTH] == [], "a line wrapped"
    headers = [line for line in lines if line.startswith("pipeline 1  repo  push main")]
    assert len(headers) == 1, "\n".join(lines)
    assert sum(NAME in line for line in lines) == 30, "the final tree is there, whole, once"
    assert any(line.startswith("pipeline 1 done in ") for line in lines)


def wait_for(tmux: list[str], marker: str, seconds: float) -> str:
    """The pane's whole history once ``marker`` shows; wrapped lines joined (-J), so a
    line that wrapped comes back longer than the pane."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        shown = subprocess.run(
            [*tmux, "capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", "run"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if marker in shown:
            return shown
        time.sleep(0.5)
    pytest.fail(f"no {marker!r} within {seconds}s")
