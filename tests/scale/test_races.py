"""Races between processes on one store, with real processes: the named lock, two
servers given one delivery (or two pushes at once under ``suppress-new``), and two
engines sharing a concurrency group."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ci_bot.store.store import Store
from ci_bot.tree.states import State
from tests.containers import ci_bot_command
from tests.github.support import SECRET, official, retarget, sign
from tests.gitrepos import make_bare_remote, make_repo
from tests.scale.conftest import wait_until

COUNT_UNDER_LOCK = """
import sys
from pathlib import Path
from ci_bot.store.store import Store
store, counter = Store(sys.argv[1]), Path(sys.argv[2])
for _ in range(int(sys.argv[3])):
    with store.exclusive("counter"):
        value = int(counter.read_text() or 0)  # read, then write: a race without the lock
        counter.write_text(str(value + 1))
store.close()
"""


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_the_named_lock_holds_across_processes(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("database_url")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'ci-bot.sqlite'}"
    )
    Store(url).close()  # the schema, once
    counter = tmp_path / "counter"
    counter.write_text("0")
    rounds = 150
    processes = [
        subprocess.Popen([sys.executable, "-c", COUNT_UNDER_LOCK, url, str(counter), str(rounds)])
        for _ in range(2)
    ]
    assert [p.wait(120) for p in processes] == [0, 0]
    assert int(counter.read_text()) == 2 * rounds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def two_servers(tmp_path: Path, database_url: str) -> Iterator[list[str]]:
    """Two ``ci-bot serve`` processes on one PostgreSQL store, each with its own data dir."""
    processes, urls, logs = [], [], []
    for name in ("a", "b"):
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
        env.update(
            CI_BOT_DATA_DIR=str(tmp_path / name),
            CI_BOT_DATABASE_URL=database_url,
            CI_BOT_GITHUB_WEBHOOK_SECRET=SECRET,
            CI_BOT_ALLOW_LOCAL_CLONES="true",
        )
        log = (tmp_path / f"serve-{name}.log").open("w")
        logs.append(log)
        command = [*ci_bot_command(), "serve", "--port", str(port)]
        processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_until(lambda url=url: _up(url), f"{url} answering", seconds=60)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        for log in logs:
            log.close()


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def _deliver_at_once(deliveries: list[tuple[str, str, bytes]]) -> list[int]:
    """POST each (server, delivery id, body) from its own thread, released together."""
    start = threading.Barrier(len(deliveries))
    codes: list[int] = [0] * len(deliveries)

    def post(index: int, url: str, delivery: str, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(body),
        }
        start.wait()
        codes[index] = requests.post(
            f"{url}/webhooks/github", data=body, headers=headers, timeout=30
        ).status_code

    threads = [threading.Thread(target=post, args=(i, *d)) for i, d in enumerate(deliveries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def _push(fixtures_dir: Path, tmp_path: Path, busybox_image: str, policy: str) -> bytes:
    config = (
        f'[[push]]\npipeline = "ci"\nduplicate = "{policy}"\n'
        f'[pipeline.ci]\nimage = "{busybox_image}"\n[pipeline.ci.step]\nrun = "sleep 2"\n'
    )
    url, sha = make_bare_remote(tmp_path, {"conducto.cfg": config})
    payload = retarget(official(fixtures_dir, "push/with-new-branch.payload.json"), url, sha)
    payload["ref"] = "refs/heads/main"
    payload["repository"]["default_branch"] = "main"
    return json.dumps(payload).encode()


def _settled(store: Store, deliveries: list[str]) -> bool:
    return all(store.delivery(d).status != "received" for d in deliveries)


@pytest.mark.docker
def test_two_servers_given_one_delivery_launch_one_pipeline(
    two_servers: list[str],
    database_url: str,
    fixtures_dir: Path,
    tmp_path: Path,
    busybox_image: str,
) -> None:
    body = _push(fixtures_dir, tmp_path, busybox_image, "allow")

    codes = _deliver_at_once([(url, "redelivered-1", body) for url in two_servers])

    assert sorted(codes) == [200, 202]  # the second server: "already received"
    store = Store(database_url)
    wait_until(lambda: _settled(store, ["redelivered-1"]), "the delivery handled", 120)
    assert len(store.pipelines()) == 1
    wait_until(lambda: store.pipelines()[0].finished_at is not None, "the pipeline ended", 120)
    store.close()


@pytest.mark.docker
def test_two_pushes_at_once_under_suppress_new_launch_one_pipeline(
    two_servers: list[str],
    database_url: str,
    fixtures_dir: Path,
    tmp_path: Path,
    busybox_image: str,
) -> None:
    body = _push(fixtures_dir, tmp_path, busybox_image, "suppress-new")

    codes = _deliver_at_once(
        [(two_servers[0], "push-one", body), (two_servers[1], "push-two", body)]
    )

    assert codes == [202, 202]
    store = Store(database_url)
    wait_until(lambda: _settled(store, ["push-one", "push-two"]), "both handled", 120)
    assert len(store.pipelines()) == 1
    outcomes = sorted(store.delivery(d).outcome for d in ("push-one", "push-two"))
    assert any("suppressed" in outcome for outcome in outcomes), outcomes
    wait_until(lambda: store.pipelines()[0].finished_at is not None, "the pipeline ended", 120)
    store.close()


GROUPED = """
[[push]]
pipeline = "ci"
[pipeline.ci]
image = "{image}"
[pipeline.ci.deploy]
run = "sleep 2"
concurrency = "production"
"""


@pytest.mark.docker
def test_two_engines_never_run_one_concurrency_group_at_once(
    tmp_path: Path, database_url: str, busybox_image: str
) -> None:
    runs = []
    for name in ("a", "b"):
        repo = tmp_path / f"repo-{name}"
        make_repo(repo, {"conducto.cfg": GROUPED.format(image=busybox_image)})
        env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
        env.update(CI_BOT_DATA_DIR=str(tmp_path / name), CI_BOT_DATABASE_URL=database_url)
        command = [*ci_bot_command(), "run", str(repo), "--branch", "main"]
        runs.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
    assert [run.wait(180) for run in runs] == [0, 0]

    store = Store(database_url)
    executions = sorted(
        (e for p in store.pipelines() for e in store.executions(p.id)),
        key=lambda e: e.started_at or e.created_at,
    )
    store.close()
    assert [e.state for e in executions] == [State.DONE, State.DONE]
    first, second = executions
    assert first.ended_at is not None and second.started_at is not None
    assert first.ended_at <= second.started_at  # one after the other, never together
