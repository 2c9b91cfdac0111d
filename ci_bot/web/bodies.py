"""Reading a signed request body without holding an unsigned one (webhooks, Slack).

Anyone may POST to a webhook, so a body is not trusted, nor kept in memory,
until its signature matches.  ``read_signed`` refuses a ``Content-Length`` over
the limit before reading a byte (413), then reads the stream in ``CHUNK``-sized
pieces, each through the HMAC and into a spooled file that stays in memory up
to ``SPOOL_BYTES`` and goes to disk past it.  A stream longer than the limit
(a lying or missing ``Content-Length``) is cut off there with the same 413.
The caller compares the digest and only then reads the bytes back.  Without a
``mac`` (Slack: ``SignatureVerifier`` takes the body whole) the body is read the
same bounded way and the caller verifies what ``read()`` returns.
"""

from __future__ import annotations

import hmac
import tempfile
from dataclasses import dataclass
from typing import IO

from ci_bot.errors import WebhookError

CHUNK = 64 * 1024
SPOOL_BYTES = 1024 * 1024


class BodyTooLarge(WebhookError):
    """The body is over the endpoint's limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than {limit // (1024 * 1024)} MB; refused", 413)


@dataclass
class SpooledBody:
    """A body read through its HMAC; ``read()`` it only once ``hexdigest`` matched
    (``hexdigest`` is empty when it was read without one)."""

    hexdigest: str
    size: int
    _file: IO[bytes]

    def read(self) -> bytes:
        with self._file:
            self._file.seek(0)
            return self._file.read()

    def discard(self) -> None:
        self._file.close()


def check_length(content_length: int | None, limit: int) -> None:
    """413 at once for a declared length over ``limit``: nothing is read."""
    if content_length is not None and content_length > limit:
        raise BodyTooLarge(limit)


def read_signed(
    stream: IO[bytes], content_length: int | None, limit: int, mac: hmac.HMAC | None
) -> SpooledBody:
    """The body of ``stream`` fed through ``mac`` in chunks, spooled, at most ``limit``."""
    check_length(content_length, limit)
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    size = 0
    try:
        while True:
            chunk = stream.read(min(CHUNK, limit + 1 - size))
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            if mac is not None:
                mac.update(chunk)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return SpooledBody(mac.hexdigest() if mac is not None else "", size, spool)


def same_digest(expected: str, given: str) -> bool:
    """A constant-time comparison that any header value (non-ASCII too) may reach."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
