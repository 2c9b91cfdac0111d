"""``POST /webhooks/github`` skips Flask (``github_webhooks.short_way``): what it answers
must not depend on that — the same JSON, the same statuses, a 500 without details for
an unexpected error, and every other method and path still Flask's."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ci_bot.store.store import Store
from tests.hardening.support import WebhookBot, push_payload, webhook_bot


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[WebhookBot]:
    made = webhook_bot(tmp_path / "data", allow_local_clones=True)
    yield made
    made.close()


def test_a_push_is_answered_202_in_json_and_stored(bot: WebhookBot) -> None:
    response = bot.deliver("push", push_payload(), delivery="p-1")
    assert response.status_code == 202
    assert response.mimetype == "application/json"
    assert response.headers["Content-Length"] == str(len(response.get_data()))
    assert response.get_json() == {"delivery": "p-1", "queued": "RefEvent"}
    assert bot.services.store.delivery("p-1").status == "received"


def test_a_redelivery_is_200_and_a_bad_signature_401(bot: WebhookBot) -> None:
    body = json.dumps(push_payload()).encode()
    assert bot.post(body, "push", "p-2").status_code == 202
    again = bot.post(body, "push", "p-2")
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    forged = bot.post(body, "push", "p-3", signature="sha256=" + "0" * 64)
    assert forged.status_code == 401 and "does not match" in forged.get_json()["error"]


def test_an_unexpected_error_is_a_500_without_details_and_is_logged(
    bot: WebhookBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: Any) -> bool:
        raise RuntimeError("the disk is gone: /secret/path")

    monkeypatch.setattr(Store, "record_delivery", broken)
    with caplog.at_level(logging.ERROR):
        response = bot.deliver("push", push_payload(), delivery="p-4")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error; it has been logged"}
    assert "/secret/path" not in response.get_data(as_text=True)
    assert any("the disk is gone" in (r.exc_text or "") for r in caplog.records)


def test_other_methods_and_paths_are_still_flasks(bot: WebhookBot) -> None:
    assert bot.client.get("/webhooks/github").status_code == 405  # the route is known
    assert bot.client.get("/healthz").status_code == 200
    assert bot.client.post("/webhooks/github/").status_code == 404
