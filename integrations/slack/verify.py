"""Is this request from Slack?  ``X-Slack-Signature`` checked with the signing secret.

Slack signs ``v0:<timestamp>:<raw body>`` with HMAC-SHA256 and sends the
timestamp in ``X-Slack-Request-Timestamp``.  A request more than five minutes
away from our clock is refused whatever its signature: a valid request
captured once must not be replayable later.  ``check_fresh`` and ``signer``
let the web handler refuse a stale request before reading its body, then feed
the body through the HMAC in chunks; ``verify`` does all of it on bytes in hand.
"""

from __future__ import annotations

import hashlib
import hmac

from ci_bot.errors import WebhookError

VERSION = "v0"
MAX_AGE_SECONDS = 5 * 60
MISMATCH = "X-Slack-Signature does not match: check CI_BOT_SLACK_SIGNING_SECRET"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` Slack sends for ``body`` at ``timestamp``."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def signer(secret: str, timestamp: str) -> hmac.HMAC:
    """An HMAC that, fed the body, yields the digest of ``X-Slack-Signature``."""
    return hmac.new(secret.encode(), f"{VERSION}:{timestamp}:".encode(), hashlib.sha256)


def matches(mac: hmac.HMAC, given: str) -> bool:
    """Whether ``given`` is the signature ``mac`` computed (any header value may come)."""
    expected = f"{VERSION}={mac.hexdigest()}".encode()
    return hmac.compare_digest(expected, given.encode("utf-8", "replace"))


def verify(secret: str, body: bytes, timestamp: str | None, given: str | None, now: float) -> None:
    """Raise ``WebhookError`` (401) unless Slack signed ``body`` less than five minutes ago."""
    timestamp, given = check_fresh(timestamp, given, now)
    mac = signer(secret, timestamp)
    mac.update(body)
    if not matches(mac, given):
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
    sent = int(timestamp)
    if abs(now - sent) > MAX_AGE_SECONDS:
        raise WebhookError(
            "the request is more than five minutes old (or from the future): refused as a "
            "possible replay; check this host's clock if Slack's requests all fail",
            401,
        )
    return timestamp, given
