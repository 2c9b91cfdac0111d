"""Is this request from Slack?  ``slack_sdk``'s ``SignatureVerifier`` says.

Slack signs ``v0:<timestamp>:<raw body>`` with HMAC-SHA256 and sends the
timestamp in ``X-Slack-Request-Timestamp``; the verifier checks both, refusing a
request more than five minutes away from our clock whatever its signature (a
valid request captured once must not be replayable later).  ``check_fresh``
runs first, on the headers alone, so a stale or garbled request is refused with
a sentence before its body is read, and nothing the verifier would choke on
(a timestamp that is not a number, a non-ASCII signature, a body that is not
UTF-8) ever reaches it.
"""

from __future__ import annotations

import hashlib
import hmac

from slack_sdk.signature import Clock, SignatureVerifier

from ci_bot.errors import WebhookError

MAX_AGE_SECONDS = 5 * 60  # SignatureVerifier's window; check_fresh says why it refused
MISMATCH = "X-Slack-Signature does not match: check CI_BOT_SLACK_SIGNING_SECRET"


class _At(Clock):
    """The verifier's clock, read once by the caller (so both checks agree)."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def verify(secret: str, body: bytes, timestamp: str | None, given: str | None, now: float) -> None:
    """Raise ``WebhookError`` (401) unless Slack signed ``body`` less than five minutes ago."""
    timestamp, given = check_fresh(timestamp, given, now)
    if not given.isascii():  # hmac.compare_digest takes ASCII text only
        raise WebhookError(MISMATCH, 401)
    try:
        valid = SignatureVerifier(secret, clock=_At(now)).is_valid(body, timestamp, given)
    except UnicodeDecodeError:  # Slack's bodies are form-encoded ASCII
        raise WebhookError("the body is not UTF-8: not a request from Slack", 401) from None
    if not valid:
        raise WebhookError(MISMATCH, 401)


def check_fresh(timestamp: str | None, given: str | None, now: float) -> tuple[str, str]:
    """(timestamp, signature) when both are there and the request is recent; else 401."""
    if not timestamp or not given:
        raise WebhookError(
            "missing X-Slack-Request-Timestamp or X-Slack-Signature: not a request from Slack",
            401,
        )
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise WebhookError("X-Slack-Request-Timestamp is not a number", 401)
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        raise WebhookError(
            "the request is more than five minutes old (or from the future): refused as a "
            "possible replay; check this host's clock if Slack's requests all fail",
            401,
        )
    return timestamp, given


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` Slack sends for ``body`` at ``timestamp`` (what tests and
    tools sign with; unlike ``SignatureVerifier.generate_signature`` it takes any bytes)."""
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return f"v0={digest.hexdigest()}"
