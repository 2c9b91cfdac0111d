"""A webhook server for ``bench_webhooks``: ci-bot's app, or a bare Flask app, on the
very waitress configuration ``ci-bot serve`` uses (``ci_bot.web.server``).

    python bench/webhook_server.py ci-bot|bare DATA_DIR SECRET

Prints the port it listens on (127.0.0.1, a free one), then serves until killed.
``ci-bot`` is ``serve`` with one difference: an executor that starts no container
(and builds no workspace image, nor the ``.git`` that goes into one) and reports every
node done, since the benchmark measures delivery handling, not builds.  It logs as
``serve`` does (one line per delivery, to stderr).
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from ci_bot.executors.base import ExecSpec
from ci_bot.executors.fake import Expect, FakeExecutor
from ci_bot.web.server import create_server


class NoContainers(FakeExecutor):
    """Every node runs at once and succeeds: no Docker in the way of the queue.  Made
    with ``builds_workspaces=False``: as no workspace image is built, neither is the
    ``/workspace/.git`` that goes into one."""

    def _take(self, spec: ExecSpec) -> Expect | None:
        return Expect(spec.node_path)


def bare_app(secret: str) -> Flask:
    """What the issue compares with: Flask checking the HMAC, answering 202."""
    app = Flask("bare")
    key = secret.encode()

    @app.post("/webhooks/github")
    def receive() -> tuple[Response, int]:
        body = request.get_data()
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Hub-Signature-256", "")
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return jsonify(error="bad signature"), 401
        return jsonify(delivery=request.headers.get("X-GitHub-Delivery", "")), 202

    return app


def ci_bot_app(data_dir: Path, secret: str) -> Any:
    from ci_bot.log_setup import log_in_background
    from ci_bot.services import open_services
    from ci_bot.settings import Settings
    from ci_bot.web.app import create_app

    log_in_background()  # as `ci-bot serve` does
    settings = Settings.from_env(
        {}, data_dir=data_dir, github_webhook_secret=secret, allow_local_clones=True
    )
    services = open_services(settings, executor=NoContainers(builds_workspaces=False))
    app = create_app(services)
    services.start()
    return app


def main() -> None:
    mode, data_dir, secret = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    app = bare_app(secret) if mode == "bare" else ci_bot_app(data_dir, secret)
    server = create_server(app, "127.0.0.1", 0)
    print(server.effective_port, flush=True)
    server.run()


if __name__ == "__main__":
    main()
