"""Where a ``next=`` may send a person after signing in: a path on this site, or nowhere.

A browser does not read a ``Location`` the way a string compares: it drops tabs,
carriage returns and line feeds anywhere in it, trims other controls at the
ends, and reads ``\\`` as ``/``.  So ``/\\t/evil.example`` arrives as
``//evil.example``, another site.  ``local_path`` therefore first removes every
control character, then accepts only a path that starts with one ``/`` (not
``//``, not ``/\\``, no ``\\`` in the path, no scheme or host once parsed), and
writes anything outside ASCII percent-encoded: the header a server sends must
be latin-1, and one with a line end in it is refused with a 500.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from werkzeug.urls import iri_to_uri

DEFAULT = "/pipelines"
MAX_LENGTH = 1000  # it travels in a cookie through GitHub's sign-in; keep it small


def local_path(path: str, default: str = DEFAULT) -> str:
    """``path`` when it stays on this site (cleaned), else ``default``: no open redirects."""
    cleaned = "".join(ch for ch in path if unicodedata.category(ch) != "Cc").strip()
    if len(cleaned) > MAX_LENGTH or not _stays_here(cleaned):
        return default
    safe = iri_to_uri(cleaned.removesuffix("?"))
    return safe if _stays_here(safe) else default


def _stays_here(path: str) -> bool:
    if not path.startswith("/") or path.startswith(("//", "/\\")):
        return False
    before_query = path.split("?", 1)[0].split("#", 1)[0]
    if "\\" in before_query:  # a browser reads it as "/", and might read a host after it
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc
