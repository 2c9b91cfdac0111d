"""What the hardening tests of the webhook endpoints share: a bot as ``serve`` builds it
(with a FakeExecutor), signed GitHub deliveries, and a minimal valid push payload."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ci_bot.executors.fake import FakeExecutor
from ci_bot.services import Services, open_services
from ci_bot.settings import Settings
from ci_bot.web.app import create_app
from tests.github.support import SECRET, sign

SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class WebhookBot:
    services: Services
    client: FlaskClient

    def deliver(self, event: str, payload: Any, delivery: str = "") -> TestResponse:
        body = json.dumps(payload).encode()
        return self.post(body, event, delivery or str(uuid.uuid4()))

    def post(self, body: bytes, event: str, delivery: str, signature: str = "") -> TestResponse:
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature or sign(body),
        }
        return self.client.post(
            "/webhooks/github", data=body, headers=headers, content_type="application/json"
        )

    def close(self) -> None:
        self.services.store.engine.dispose()


def webhook_bot(data_dir: Path, **settings: Any) -> WebhookBot:
    values: dict[str, Any] = {"data_dir": data_dir, "github_webhook_secret": SECRET, **settings}
    services = open_services(Settings.from_env({}, **values), executor=FakeExecutor())
    return WebhookBot(services, create_app(services).test_client())


def push_payload(
    clone_url: str = "https://github.com/acme/app.git", ref: str = "refs/heads/main"
) -> dict[str, Any]:
    """A push as GitHub sends it, cut to the fields ci-bot reads."""
    return {
        "ref": ref,
        "before": "0" * 40,
        "after": SHA,
        "created": False,
        "deleted": False,
        "repository": {
            "full_name": "acme/app",
            "clone_url": clone_url,
            "default_branch": "main",
        },
        "pusher": {"name": "dev"},
        "sender": {"login": "dev"},
    }


def pull_request_payload(**head: Any) -> dict[str, Any]:
    """A pull request opened from acme/app's own branch (``head`` overrides head fields)."""
    repo = {"full_name": "acme/app", "clone_url": "https://github.com/acme/app.git"}
    return {
        "action": "opened",
        "number": 7,
        "pull_request": {
            "number": 7,
            "draft": False,
            "user": {"login": "dev"},
            "head": {"sha": SHA, "ref": "feature", "repo": repo, **head},
            "base": {"ref": "main", "repo": repo},
        },
        "repository": repo,
        "sender": {"login": "dev"},
    }
