"""Webhook bodies are limited (GitHub's 25 MB) and read in bounded chunks through the
signature's HMAC, so an unsigned body is never held in memory whole.

The defect this pins down: unsigned 25 MB bodies were read whole before the
signature was checked (24 of them held 403 MB).  Memory is hard to assert; what
is asserted is how the body is read: an over-limit ``Content-Length`` gets 413
before one byte is read, and everything else is read in pieces of at most
``bodies.CHUNK`` bytes (the input stream records each read).
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ci_bot.web import bodies
from ci_bot.web.github_webhooks import MAX_BODY_BYTES
from ci_bot.web.slack_interactions import MAX_BODY_BYTES as SLACK_MAX_BODY_BYTES
from integrations.slack.verify import signature
from tests.github.support import sign
from tests.hardening.support import WebhookBot, webhook_bot

SLACK_SECRET = "slack-signing-secret-for-tests"
SLACK_URL = "/webhooks/slack/interactions"


class RecordingInput:
    """A WSGI input stream of ``size`` bytes (``body`` first, then spaces), made as it is
    read, that records the size of every read."""

    def __init__(self, size: int, body: bytes = b"") -> None:
        self.size, self.body, self.position = size, body, 0
        self.reads: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        left = self.size - self.position
        count = left if size is None or size < 0 else min(size, left)
        start, self.position = self.position, self.position + count
        head = self.body[start : start + count]
        return head + b" " * (count - len(head))

    def readline(self, size: int = -1) -> bytes:  # WSGI asks for it; never used here
        raise AssertionError("the body is not read by lines")


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[WebhookBot]:
    made = webhook_bot(tmp_path / "data", slack_signing_secret=SLACK_SECRET)
    yield made
    made.close()


def post(
    bot: WebhookBot,
    path: str,
    stream: RecordingInput,
    length: int | None,
    headers: dict[str, str],
    content_type: str = "application/json",
) -> Any:
    """POST with ``stream`` as the WSGI input, as a server hands it over: ``length`` is the
    declared Content-Length, None a chunked body the server passes on unlimited."""
    environ: dict[str, Any] = {"wsgi.input": stream}
    if length is None:
        environ |= {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
    else:
        environ["CONTENT_LENGTH"] = str(length)
    sent = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1", **headers}
    return bot.client.post(path, headers=sent, content_type=content_type, environ_overrides=environ)


def slack_headers(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(SLACK_SECRET, timestamp, body),
    }


UNSIGNED = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("declared", [MAX_BODY_BYTES + 1, 26 * 1024 * 1024, 10**12])
def test_an_over_limit_content_length_is_refused_before_anything_is_read(
    bot: WebhookBot, declared: int
) -> None:
    stream = RecordingInput(declared)
    response = post(bot, "/webhooks/github", stream, declared, UNSIGNED)
    assert response.status_code == 413
    assert "larger than 25 MB" in response.get_json()["error"]
    assert stream.reads == []


def test_an_over_limit_slack_request_is_refused_before_anything_is_read(bot: WebhookBot) -> None:
    stream = RecordingInput(SLACK_MAX_BODY_BYTES + 1)
    headers = slack_headers(b"")
    response = post(bot, SLACK_URL, stream, SLACK_MAX_BODY_BYTES + 1, headers, FORM)
    assert response.status_code == 413 and stream.reads == []


def test_a_wrongly_signed_body_is_read_in_bounded_chunks_and_refused(bot: WebhookBot) -> None:
    size = 5 * 1024 * 1024
    stream = RecordingInput(size)
    response = post(bot, "/webhooks/github", stream, size, UNSIGNED)
    assert response.status_code == 401
    assert max(stream.reads) <= bodies.CHUNK
    assert len(stream.reads) >= size // bodies.CHUNK
    assert bot.services.store.unhandled_deliveries() == []


def test_a_signed_body_is_read_in_bounded_chunks_then_handled(bot: WebhookBot) -> None:
    payload = json.dumps({"zen": "x" * (3 * 1024 * 1024), "hook_id": 1}).encode()
    stream = RecordingInput(len(payload), payload)
    headers = {"X-Hub-Signature-256": sign(payload)}
    response = post(bot, "/webhooks/github", stream, len(payload), headers)
    assert response.status_code == 200 and response.get_json()["ignored"] == "pong"
    assert max(stream.reads) <= bodies.CHUNK


def test_a_signed_slack_body_is_read_in_bounded_chunks(bot: WebhookBot) -> None:
    body = b"payload=%7B%7D" + b"+" * (300 * 1024)
    stream = RecordingInput(len(body), body)
    response = post(bot, SLACK_URL, stream, len(body), slack_headers(body), FORM)
    assert response.status_code == 400  # signed, read, and then not a payload Slack sends
    assert max(stream.reads) <= bodies.CHUNK


def test_a_body_with_no_length_is_cut_off_at_the_limit(bot: WebhookBot) -> None:
    """A chunked request the server passes on unlimited: 413 once the limit is passed."""
    stream = RecordingInput(MAX_BODY_BYTES + 10 * bodies.CHUNK)
    response = post(bot, "/webhooks/github", stream, None, UNSIGNED)
    assert response.status_code == 413
    assert max(stream.reads) <= bodies.CHUNK
    assert sum(stream.reads) <= MAX_BODY_BYTES + bodies.CHUNK


def test_the_reader_spools_past_a_megabyte_instead_of_holding_it(tmp_path: Path) -> None:
    import hashlib
    import hmac

    stream = RecordingInput(3 * 1024 * 1024)
    body = bodies.read_signed(
        stream, 3 * 1024 * 1024, MAX_BODY_BYTES, hmac.new(b"k", digestmod=hashlib.sha256)
    )
    assert body.size == 3 * 1024 * 1024
    assert body._file._rolled  # type: ignore[attr-defined]  # on disk, not in memory
    body.discard()


def test_an_unsigned_body_is_never_held_in_memory_whole(bot: WebhookBot) -> None:
    """Python's own allocations while an unsigned 8 MB body is refused: the spooled
    reader keeps at most 1 MB of it in memory (reading it whole would take 8 MB)."""
    size = 8 * 1024 * 1024
    post(bot, "/webhooks/github", RecordingInput(1024), 1024, UNSIGNED)  # warm up
    tracemalloc.start()
    try:
        response = post(bot, "/webhooks/github", RecordingInput(size), size, UNSIGNED)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 401
    assert peak < 3 * 1024 * 1024, f"{peak / 2**20:.1f} MB held for an unsigned body"
