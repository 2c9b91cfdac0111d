"""``ci-bot serve`` as deployed (waitress, the engine beside it): pages need sign-in,
and a live stream carries a node's log while the real container writes it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.engine.launch import launch_local
from ci_bot.executors.fake import FakeExecutor
from ci_bot.executors.images import BUSYBOX_IMAGE
from ci_bot.settings import Settings
from ci_bot.store.store import Store
from ci_bot.tree.select import Event
from tests.containers import ci_bot_command
from tests.gitrepos import make_repo
from tests.web.conftest import TOKEN, ids_from_random_offset, remove_containers

pytestmark = pytest.mark.docker

CONFIG = f"""
[push]
[pipeline.main]
image = "{BUSYBOX_IMAGE}"
[pipeline.main.hello]
run = "for i in 1 2 3; do echo hello from waitress $i; sleep 0.3; done"
"""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, token: str = "") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def test_serve_guards_its_pages_and_streams_a_log_live(
    tmp_path: Path, docker_engine: DockerClient, busybox_image: str
) -> None:
    data = tmp_path / "data"
    settings = Settings.from_env({}, data_dir=data)
    store = Store(settings.database_url)
    repo = tmp_path / "app"
    make_repo(repo, {"conducto.cfg": CONFIG})
    with ids_from_random_offset(store, first=True):
        pipeline_id = launch_local(
            store, settings, FakeExecutor(), repo, Event("push", branch="main")
        )
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CI_BOT_DATA_DIR": str(data),
        "CI_BOT_UI_TOKENS": TOKEN,
        "CI_BOT_ALLOW_UNSIGNED_WEBHOOKS": "true",
    }
    server = subprocess.Popen(
        [*ci_bot_command(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server)
        status, headers, _ = get(f"{base}/pipelines/{pipeline_id}")
        assert status == 302 and headers["Location"].startswith("/sign-in")
        assert get(f"{base}/api/pipelines")[0] == 401

        lines = _stream_log(f"{base}/api/pipelines/{pipeline_id}/stream?node=/hello")
        assert [line.split(" ", 1)[1] for line in lines[:3]] == [
            f"hello from waitress {n}" for n in (1, 2, 3)
        ]
        deadline = time.monotonic() + 60
        while json.loads(get(f"{base}/api/pipelines/{pipeline_id}", TOKEN)[2])["state"] != "done":
            assert time.monotonic() < deadline, "the pipeline did not finish"
            time.sleep(0.2)
    finally:
        # As `docker stop` does (a background job's children ignore SIGINT).
        server.send_signal(signal.SIGTERM)
        # A bound for a hang, not a timing: a loaded machine may take long to stop.
        _, errors = server.communicate(timeout=180)
        leftovers = remove_containers(
            docker_engine, [e.container_id for e in store.executions(pipeline_id) if e.container_id]
        )
        store.engine.dispose()
    assert server.returncode == 0, errors.decode()  # stopped, not killed
    assert TOKEN not in errors.decode(), "a sign-in token reached the log"
    assert not leftovers


def _wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        try:
            if get(f"{base}/healthz")[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "ci-bot serve did not come up"
        time.sleep(0.2)


def _stream_log(url: str) -> list[str]:
    """Read the event stream until the node's log has three lines; those lines."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    lines: list[str] = []
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        kind = ""
        for raw in response:
            text = raw.decode().rstrip("\n")
            if text.startswith("event: "):
                kind = text.removeprefix("event: ")
            elif text.startswith("data: ") and kind == "log":
                lines += json.loads(text.removeprefix("data: "))["lines"]
                if len(lines) >= 3:
                    return lines
    raise AssertionError(f"the stream ended with only {lines}")
