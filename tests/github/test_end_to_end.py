"""End to end, as in production: ``ci-bot serve`` (waitress, the engine, the job queue
and the reporters in one process), real git, real containers, signed deliveries over
HTTP, and the fake GitHub checking every call ci-bot makes.

A pull request is opened → its pipeline runs in containers → GitHub shows a
failed ``ci/lint`` annotated on the right line → a reader's ``/rerun`` is refused
and runs nothing → a writer's ``/rerun`` runs only the failed node and what waited
behind it → the checks turn green.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests
from docker import DockerClient

from ci_bot.store.store import Store
from tests.containers import ci_bot_command, container_events
from tests.fakes.github import FakeGitHub
from tests.github.conftest import AppKey
from tests.github.support import APP_ID, PUBLIC_URL, SECRET, comment_payload, pr_payload, sign
from tests.gitrepos import git, make_bare_remote, work_tree

pytestmark = pytest.mark.docker

REPO = "Codertocat/Hello-World"
CONFIG = """\
[pr]
pipeline = "ci"

[pipeline.ci]
image = "{image}"
[pipeline.ci.lint]
parallel = true
[pipeline.ci.lint.style]
run = "echo style ok"
[pipeline.ci.lint.types]
# Fails the first time (a flaky check), passes once $CI_DATA remembers it ran.
run = '''
if [ -f "$CI_DATA/ran-once" ]; then echo "types ok"; exit 0; fi
touch "$CI_DATA/ran-once"
echo "src/app.py:2:5: error: Incompatible types in assignment (expression has type str)"
echo "gone.py:1:1: error: a file that is not in the commit"
exit 1
'''
[pipeline.ci.test]
run = "echo tests ok"
"""


@pytest.fixture
def serve(
    tmp_path: Path, fake_github: FakeGitHub, app_key: AppKey, docker_engine: DockerClient
) -> Iterator[str]:
    """``ci-bot serve`` on a free port, configured as a GitHub App against the fake."""
    key = tmp_path / "app.pem"
    key.write_text(app_key.private_pem)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CI_BOT_DATA_DIR": str(tmp_path / "data"),
        "CI_BOT_GITHUB_WEBHOOK_SECRET": SECRET,
        "CI_BOT_GITHUB_APP_ID": APP_ID,
        "CI_BOT_GITHUB_PRIVATE_KEY_FILE": str(key),
        "CI_BOT_GITHUB_API_URL": fake_github.url,
        "CI_BOT_PUBLIC_URL": PUBLIC_URL,
        "CI_BOT_ALLOW_LOCAL_CLONES": "true",  # the test's repository is a file:// URL
    }
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [*ci_bot_command(), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, tmp_path / "serve.log")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        _remove_our_containers(docker_engine, tmp_path / "data" / "ci-bot.sqlite")


def _remove_our_containers(client: DockerClient, database: Path) -> None:
    """Containers this test's bot started and left (by id: other runs reuse pipeline ids)."""
    if not database.exists():
        return
    store = Store(f"sqlite:///{database}")
    for pipeline in store.pipelines():
        for execution in store.executions(pipeline.id):
            if execution.container_id:
                with contextlib.suppress(docker.errors.NotFound):
                    client.containers.get(execution.container_id).remove(force=True)
    store.engine.dispose()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ci-bot serve exited:\n{log.read_text()}"
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"ci-bot serve did not answer:\n{log.read_text()}")


def deliver(url: str, event: str, payload: Any, delivery: str) -> requests.Response:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body),
    }
    return requests.post(f"{url}/webhooks/github", data=body, headers=headers, timeout=10)


def wait_handled(store: Store, delivery: str) -> str:
    deadline = time.monotonic() + 60
    while store.delivery(delivery).status == "received":
        assert time.monotonic() < deadline, f"delivery {delivery} was never handled"
        time.sleep(0.1)
    found = store.delivery(delivery)
    assert found.status == "handled", found.outcome
    return found.outcome


def test_a_pull_request_runs_in_containers_and_reports_to_github(
    serve: str,
    fake_github: FakeGitHub,
    fixtures_dir: Path,
    tmp_path: Path,
    docker_engine: DockerClient,
    busybox_image: str,
) -> None:
    url, sha = make_bare_remote(
        tmp_path,
        {
            "conducto.cfg": CONFIG.format(image=busybox_image),
            "src/app.py": "import os\nx: int = 'a'\n",
        },
    )
    git(work_tree(url), "push", "--quiet", "origin", "main:refs/pull/2/head")
    fake_github.add_pull(REPO, 2, sha, REPO)
    fake_github.roles |= {"maintainer": "write", "visitor": "read"}
    store = Store(f"sqlite:///{tmp_path / 'data' / 'ci-bot.sqlite'}")

    # 1. The pull request is opened: one pipeline, checks per stage, lint fails.
    opened = deliver(serve, "pull_request", pr_payload(fixtures_dir, url, sha), "opened")
    assert opened.status_code == 202
    fake_github.wait_for(
        lambda: (
            {r.name: r.status for r in fake_github.check_runs.values()}
            == {"ci/lint": "completed", "ci/test": "completed"}
        )
    )
    lint, test = fake_github.latest("ci/lint"), fake_github.latest("ci/test")
    statuses = [body.get("status") for body in lint.history]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    assert set(statuses) <= {"queued", "in_progress", "completed"}
    assert (lint.conclusion, test.conclusion) == ("failure", "neutral")
    found = [(a["path"], a["start_line"], a["start_column"]) for a in lint.annotations]
    assert found == [("src/app.py", 2, 5)], lint.history
    assert "Incompatible types in assignment" in lint.output["text"]
    assert lint.details_url == f"{PUBLIC_URL}/pipelines/1/nodes/lint"
    assert fake_github.tokens_issued == [1]  # one installation token for every call

    # 2. A reader asks for a rerun: a polite refusal, and no container starts.
    executions = len(store.executions(1))
    refused = comment_payload(fixtures_dir, url, "/rerun", user="visitor")
    assert deliver(serve, "issue_comment", refused, "by-reader").status_code == 202
    assert wait_handled(store, "by-reader") == f"refused: visitor is read on {REPO}"
    ((_, number, reply),) = fake_github.comments
    assert number == 2 and "only people with write, maintain or admin" in reply
    assert len(store.executions(1)) == executions  # nothing was even queued

    # 3. A writer asks: only the failed node runs again, then what waited behind it.
    before = time.time()
    rerun = comment_payload(
        fixtures_dir, url, "CI flaked, trying again.\n/rerun", user="maintainer"
    )
    assert deliver(serve, "issue_comment", rerun, "by-writer").status_code == 202
    assert wait_handled(store, "by-writer") == "/rerun: pipeline 1: reset /lint/types"
    fake_github.wait_for(
        lambda: (
            fake_github.latest("ci/lint").conclusion == "success"
            and fake_github.latest("ci/test").conclusion == "success"
        )
    )
    again = store.executions(1)[executions:]
    assert [e.path for e in again] == ["/lint/types", "/test"]
    # Docker's own record: those containers started after the comment.  (Other test
    # runs on this engine reuse pipeline ids, so containers are matched by id.)
    seen = container_events(docker_engine, 1, before, ("start",))
    assert {e.container_id for e in seen} >= {e.container_id for e in again}
    assert [run.conclusion for run in fake_github.runs_named("ci/lint")] == ["failure", "success"]
    assert fake_github.reactions == [(REPO, 492700400, "+1")]
    assert store.pipeline(1).state.value == "done"
    assert len(store.pipelines()) == 1
    log = (tmp_path / "serve.log").read_text()
    assert "queued" in log  # the bot logged its work ...
    assert SECRET not in log and not any(
        token in log for token in fake_github.tokens
    )  # ... not secrets
