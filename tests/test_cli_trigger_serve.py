"""``ci-bot trigger`` against a real ``ci-bot serve``: ``POST /api/pipelines`` runs the
newest commit of a branch of a repository the bot has built from GitHub, and the
pipeline it names runs in containers.

The repository is a bare git repository served by file:// URL; GitHub's API is not
configured.  (``test_cli_trigger.py`` covers every answer against a stub server.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from docker import DockerClient

from ci_bot.store.store import Store
from tests.containers import ci_bot_command, remove_leftovers
from tests.gitrepos import make_bare_remote, push_files
from tests.test_cli_rerun import CONFIG, launched_from_github

pytestmark = pytest.mark.docker

TOKEN = "operator-token-for-the-trigger-test"


@pytest.fixture
def serve(tmp_path: Path, docker_engine: DockerClient) -> Iterator[str]:
    """``ci-bot serve`` on a free port, with an operator's token; its address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env.update(
        CI_BOT_DATA_DIR=str(tmp_path / "data"),
        CI_BOT_ALLOW_UNSIGNED_WEBHOOKS="true",
        CI_BOT_UI_TOKENS=TOKEN,
        CI_BOT_PUBLIC_URL=url,
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*ci_bot_command(), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
    try:
        wait_until_up(url, process, log_path)
        yield url
    finally:
        # As `docker stop` does (a background job's children ignore SIGINT).
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        store = Store(f"sqlite:///{tmp_path / 'data' / 'ci-bot.sqlite'}")
        pipeline_ids = [pipeline.id for pipeline in store.pipelines()]
        store.close()
        assert not remove_leftovers(docker_engine, pipeline_ids, tmp_path / "data")


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ci-bot serve exited:\n{log.read_text()}"
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"ci-bot serve did not answer:\n{log.read_text()}")


def test_trigger_runs_a_branch_of_a_known_repository_on_a_served_bot(
    serve: str, tmp_path: Path, busybox_image: str
) -> None:
    url, _ = make_bare_remote(
        tmp_path, {"conducto.cfg": CONFIG.format(image=busybox_image), "version.txt": "1\n"}
    )
    launched_from_github(tmp_path / "data", url)  # now the bot knows acme/app
    newest = push_files(url, {"version.txt": "2\n"}, "v2")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env.update(CI_BOT_API_TOKEN=TOKEN, CI_BOT_DATA_DIR=str(tmp_path / "data"))

    done = subprocess.run(
        [*ci_bot_command(), "trigger", "acme/app", "--branch", "main", "--url", serve],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == f"pipeline 2 started: {serve}/pipelines/2\n"
    pipeline = finished(serve, 2)
    assert (pipeline["sha"], pipeline["state"], pipeline["branch"]) == (newest, "done", "main")


def finished(url: str, pipeline_id: int) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found: dict[str, object] = requests.get(
            f"{url}/api/pipelines/{pipeline_id}", headers=headers, timeout=10
        ).json()
        if found.get("finished_at"):
            return found
        time.sleep(0.5)
    raise AssertionError(f"pipeline {pipeline_id} did not finish")
