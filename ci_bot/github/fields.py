"""What a delivery's values must look like before any job uses them (pure).

GitHub sends well-formed values.  A signed delivery that holds anything else
comes from a bug or from someone holding the webhook secret, and it must end as
a refused delivery with a sentence, not as a traceback in a worker: a lone
surrogate cannot be passed to git or written to the database, a megabyte-long
URL or a ``file://`` one has no business reaching ``git fetch``, and a ref name
git itself would refuse is never a branch that was pushed.

Every check raises ``WebhookError`` (400) naming the field.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ci_bot.errors import WebhookError

MAX_URL = 2048
MAX_REF_BYTES = 255  # a loose ref is a file: one name on most filesystems
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1, or SHA-256 repositories
_OWNER_OR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
# git check-ref-format: no controls, space, ~ ^ : ? * [ \, no "..", no "@{", no "//".
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def unicode_text(where: str, value: str) -> str:
    """``value`` when it is valid Unicode (JSON lets ``\\ud800`` through; UTF-8 does not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise WebhookError(f"{where} is not valid Unicode text") from None
    return value


def clone_url(where: str, value: str, *, allow_local: bool = False) -> str:
    """An ``https://`` URL with a host and no credentials (``file://`` when allowed).

    ``http://`` passes too: GitHub's own examples and some Enterprise servers send it,
    and the bot never puts its token into a URL that is not https (``GitHubBot``)."""
    if len(value) > MAX_URL:
        raise WebhookError(f"{where} is longer than {MAX_URL} characters")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise WebhookError(f"{where} must be a plain https:// URL (no spaces or controls)")
    parts = urlsplit(value)
    if parts.scheme == "file" and allow_local:
        if not parts.path.startswith("/") or parts.netloc not in ("", "localhost"):
            raise WebhookError(f"{where} must be a file:///absolute/path URL")
        return value
    if parts.scheme not in ("https", "http"):
        raise WebhookError(f"{where} must be an https:// URL, not {parts.scheme or 'none'}")
    if not parts.hostname or "@" in parts.netloc:
        raise WebhookError(f"{where} must name a host and carry no credentials")
    return value


def ref_name(where: str, value: str) -> str:
    """A branch or tag name (or a full ``refs/...`` name) git itself would accept, and not
    one that starts with ``-`` (``git branch`` refuses those: they read as options)."""
    unicode_text(where, value)
    if len(value.encode("utf-8")) > MAX_REF_BYTES:
        raise WebhookError(f"{where} is longer than {MAX_REF_BYTES} bytes")
    if (
        not value
        or _REF_FORBIDDEN.search(value)
        or value.startswith("/")
        or value.removeprefix("refs/heads/").removeprefix("refs/tags/").startswith("-")
        or value.endswith(("/", ".", ".lock"))
        or value == "@"
        or any(part.startswith(".") or part.endswith(".lock") for part in value.split("/"))
    ):
        raise WebhookError(f"{where} {_shown(value)} is not a valid git ref name")
    return value


def commit_sha(where: str, value: str) -> str:
    """A full commit id: 40 (or, for SHA-256 repositories, 64) lowercase hex digits."""
    if not _SHA.fullmatch(value):
        raise WebhookError(f"{where} {_shown(value)} is not a commit id (40 hex digits)")
    return value


def full_name(where: str, value: str) -> str:
    """``owner/name``: GitHub's characters, so it is safe in an API path."""
    owner, slash, name = value.partition("/")
    if not slash or not all(
        _OWNER_OR_NAME.fullmatch(part) and part.strip(".") for part in (owner, name)
    ):
        raise WebhookError(f"{where} {_shown(value)} is not an owner/name repository name")
    return value


def _shown(value: str) -> str:
    """A bad value, quoted, short and safe to put in a log line or a response."""
    return ascii(value[:60] + ("…" if len(value) > 60 else ""))
