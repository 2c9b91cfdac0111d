"""``ci-bot trigger`` against a server: the request it sends to ``POST /api/pipelines`` and
what it makes of each answer.

The server here is a stub Flask app holding to the endpoint's contract (body
``{"repo", "branch", "sha", "event"}``; 201 ``{"id", "url"}``, 202 ``{"delivery",
"waiting"}``, an error ``{"error"}``), so the client is tested on its own.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from tests.containers import ci_bot_command

TOKEN = "operator-token-for-tests"


@dataclass
class StubServer:
    url: str
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[StubServer]:
    app = Flask(__name__)
    stub = StubServer(url="")

    @app.post("/api/pipelines")
    def start() -> tuple[Response, int]:
        stub.received.append(
            {"auth": request.headers.get("Authorization"), "body": request.get_json()}
        )
        status, body = stub.answers.pop(0)
        return jsonify(body), status

    http = make_server("127.0.0.1", 0, app, threaded=True)
    stub.url = f"http://127.0.0.1:{http.server_port}"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield stub
    http.shutdown()
    thread.join(10)
    assert stub.answers == [], "an answer was prepared for a request that never came"


def trigger(server: StubServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env.update(CI_BOT_API_TOKEN=TOKEN, CI_BOT_PUBLIC_URL=server.url)
    return subprocess.run(
        [*ci_bot_command(), "trigger", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_trigger_posts_the_run_and_prints_the_new_pipeline(server: StubServer) -> None:
    server.answers.append((201, {"id": 12, "url": f"{server.url}/pipelines/12"}))

    done = trigger(server, "acme/app", "--branch", "main")

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"pipeline 12 started: {server.url}/pipelines/12\n"
    assert server.received == [
        {
            "auth": f"Bearer {TOKEN}",
            "body": {"repo": "acme/app", "branch": "main", "sha": "", "event": "push"},
        }
    ]


def test_a_launch_still_waiting_and_a_refusal_are_said(server: StubServer) -> None:
    server.answers.append((202, {"delivery": "manual:1f2e", "waiting": "queued"}))
    server.answers.append((404, {"error": "ci-bot has never built acme/nope from GitHub"}))

    waiting = trigger(server, "acme/app", "--sha", "1a2b3c4", "--event", "create-branch")
    refused = trigger(server, "acme/nope", "--branch", "main")

    assert waiting.returncode == 0, waiting.stderr
    assert waiting.stdout == "queued, not launched yet (queued): delivery manual:1f2e\n"
    assert server.received[0]["body"] == {
        "repo": "acme/app",
        "branch": "",
        "sha": "1a2b3c4",
        "event": "create-branch",
    }
    assert refused.returncode == 1
    assert refused.stdout == "refused (404): ci-bot has never built acme/nope from GitHub\n"


def test_a_branch_or_a_sha_is_needed_before_anything_is_sent(server: StubServer) -> None:
    done = trigger(server, "acme/app")

    assert done.returncode == 2
    assert "give --branch (its newest commit runs) or --sha" in done.stderr
    assert server.received == []
