"""Is this request from Slack?  ``X-Slack-Signature`` checked with the signing secret.

Slack signs ``v0:<timestamp>:<raw body>`` with HMAC-SHA256 and sends the
timestamp in ``X-Slack-Request-Timestamp``.  A request more than five minutes
away from our clock is refused whatever its signature: a valid request
captured once must not be replayable later.
"""

from __future__ import annotations

import hashlib
import hmac

from ci_bot.errors import WebhookError

VERSION = "v0"
MAX_AGE_SECONDS = 5 * 60


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` Slack sends for ``body`` at ``timestamp``."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def verify(secret: str, body: bytes, timestamp: str | None, given: str | None, now: float) -> None:
    """Raise ``WebhookError`` (401) unless Slack signed ``body`` less than five minutes ago."""
    if not timestamp or not given:
        raise WebhookError(
            "missing X-Slack-Request-Timestamp or X-Slack-Signature: not a request from Slack",
            401,
        )
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookError("X-Slack-Request-Timestamp is not a number", 401) from None
    if abs(now - sent) > MAX_AGE_SECONDS:
        raise WebhookError(
            "the request is more than five minutes old (or from the future): refused as a "
            "possible replay; check this host's clock if Slack's requests all fail",
            401,
        )
    expected = signature(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, given.encode("utf-8", "replace")):
        raise WebhookError(
            "X-Slack-Signature does not match: check CI_BOT_SLACK_SIGNING_SECRET", 401
        )
