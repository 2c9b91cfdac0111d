"""Hiding secrets in text bound for people: logs, the UI and API, GitHub and Slack.

Pure (no I/O).  Every sink hides with a ``Masker`` built here, so they all hide
the same forms of a value ``V``, each replaced by ``***``:

* each line of ``V``, stripped, when it has at least ``MIN_LITERAL_CHARS``
  characters (a multi-line value such as a private key is hidden line by line);
* ``V`` and ``V`` followed by a newline (what ``echo "$V" | base64`` encodes) in
  base64 and base64url, with and without ``=`` padding;
* ``V`` in hex, lower and upper case, contiguous (``od -An -tx1 | tr -d ' \\n'``,
  ``xxd -p`` of a short value) or with a space between bytes (``od -An -tx1`` of a
  value of up to 16 bytes);
* ``V`` inside a longer base64 (or base64url) stream: there its characters depend on
  where ``V`` starts, modulo 3, and on its neighbours; for each of the three
  alignments the run of characters made of ``V``'s bits alone is hidden.

An encoded form shorter than ``MIN_ENCODED_CHARS`` is not hidden: it would hide
ordinary words.  With values of at least 5 characters every form is long enough.

Not covered: encodings wrapped over several lines (``base64`` without ``-w0`` of a
value longer than 57 bytes, ``hexdump -C``), other encodings (URL quoting, base32,
compression), a value printed in pieces.  Masking guards against accidents; a node
that holds a secret and wants to leak it can always transform it first.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MASK = "***"
MIN_LITERAL_CHARS = 3  # a shorter line ("1", "no") would hide ordinary output everywhere
MIN_ENCODED_CHARS = 6
# Where a value's first byte sits in a base64 stream (mod 3) decides how many leading
# characters it shares with the bytes before it: 0, 2 or 3.
SHARED_LEADING_CHARS = {0: 0, 1: 2, 2: 3}


def literal_lines(value: str) -> list[str]:
    """The lines of ``value`` worth hiding on their own."""
    return [line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_LITERAL_CHARS]


def encoded_forms(value: str) -> set[str]:
    """Every encoded form of ``value`` that is hidden (see the module's docstring)."""
    raw = value.encode()
    if not raw:
        return set()
    forms = {raw.hex(), raw.hex().upper(), raw.hex(" "), raw.hex(" ").upper()}
    for data in (raw, raw + b"\n"):
        forms |= _both_alphabets(base64.b64encode(data).decode())
    for offset, shared in SHARED_LEADING_CHARS.items():
        forms |= _both_alphabets(_inner_base64(raw, offset, shared))
    return {form for form in forms if len(form) >= MIN_ENCODED_CHARS}


def _inner_base64(raw: bytes, offset: int, shared: int) -> str:
    """The base64 characters made of ``raw``'s bits alone, when ``raw`` starts at
    ``offset`` (mod 3) of a longer stream: the partial characters at both ends
    mix in the neighbours' bits."""
    encoded = base64.b64encode(bytes(offset) + raw).decode().rstrip("=")
    whole = (len(raw) + offset) * 8 // 6
    return encoded[shared:whole]


def _both_alphabets(standard: str) -> set[str]:
    """A base64 text and its base64url twin, each with and without padding."""
    url = standard.replace("+", "-").replace("/", "_")
    return {standard, standard.rstrip("="), url, url.rstrip("=")}


def value_forms(value: str) -> set[str]:
    """Everything hidden for ``value``: its long-enough lines and its encoded forms."""
    return set(literal_lines(value)) | encoded_forms(value)


class Masker:
    """Replaces every form of the given values by ``***``, in bytes or in text (as
    UTF-8, which is self-synchronising: a form matches only whole characters).

    At each position the longest form wins over its prefixes.  The forms are one
    regular expression shaped as a trie: ``re`` tries a flat alternation of a
    hundred literals one by one at every byte, a trie once.

    Even so ``re`` scans at tens of MB/s for one secret and a few MB/s for twenty:
    too slow for a node printing hundreds of MB.  Most text holds no form at all, so
    a text is first searched with RE2 (google-re2), whose automaton scans at hundreds
    of MB/s whatever the number of forms; only a text where a form occurs is then
    masked by ``re``.  Without google-re2 installed, ``re`` does both.
    """

    def __init__(self, values: Iterable[str]) -> None:
        forms: set[str] = set()
        for value in values:
            forms |= value_forms(value)
        encoded = [form.encode() for form in forms]
        self.longest = max(map(len, encoded), default=0)
        self._pattern = re.compile(_trie_pattern(encoded)) if encoded else None
        self._search = _fast_search(encoded) if encoded else None

    @classmethod
    def of_secrets(cls, secrets: Mapping[str, str], also: Iterable[str] = ()) -> Masker:
        """A Masker for named secrets, warning (by name, never value) of a line too
        short to hide; ``also``: other values to hide (the bot's other secrets)."""
        for name, value in secrets.items():
            for line in value.splitlines():
                if 0 < len(line.strip()) < MIN_LITERAL_CHARS:
                    logger.warning(
                        "secret %s has a line of %d characters: too short to mask, left unmasked",
                        name,
                        len(line.strip()),
                    )
        return cls([*secrets.values(), *also])

    def hide(self, text: str) -> str:
        if self._pattern is None:
            return text
        data = text.encode("utf-8", "surrogatepass")
        return self.hide_bytes(data).decode("utf-8", "surrogatepass")

    def hide_bytes(self, data: bytes) -> bytes:
        if self._pattern is None or not self.occurs_in(data):
            return data
        return self._pattern.sub(MASK.encode(), data)

    def occurs_in(self, data: bytes) -> bool:
        """Whether ``hide_bytes`` would change ``data``: one scan, no copy."""
        if self._search is not None:
            return self._search(data)
        return self._pattern is not None and self._pattern.search(data) is not None

    def spans(self, data: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
        """Where forms occur in ``data[start:end]`` (as ``hide_bytes`` would replace them)."""
        if self._pattern is not None:
            for match in self._pattern.finditer(data, start, end):
                yield match.span()


def _fast_search(forms: list[bytes]) -> Callable[[bytes], bool] | None:
    """RE2's test for "some form occurs in this text", or None without google-re2.

    Bytes are matched as bytes (Latin-1), whatever the text's encoding; an
    automaton too big for RE2's memory budget still answers, only slower."""
    try:
        import re2  # optional; imported when a Masker is built, not at start-up
    except ImportError:
        return None
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    try:
        pattern = re2.compile(b"|".join(re2.escape(form) for form in forms), options)
    except re2.error:  # not expected for literals; ``re`` alone still masks right
        logger.warning("RE2 could not compile the secret forms; masking falls back to re")
        return None
    search = pattern.search
    return lambda data: search(data) is not None


def _trie_pattern(words: list[bytes]) -> bytes:
    """One pattern matching the longest of ``words`` at a position: a trie whose
    every branch is tried before a word ending there (``(?:...)?`` is greedy)."""
    trie: dict[int, dict[int, Any]] = {}
    for word in words:
        node = trie
        for byte in word:
            node = node.setdefault(byte, {})
        node[END] = {}
    return _node_pattern(trie)


END = -1  # marks a word ending at a trie node (bytes are 0..255)


def _node_pattern(node: dict[int, Any]) -> bytes:
    """``node``'s continuations; single-child runs are walked, not recursed into, so a
    long form (a private key's base64) costs no stack."""
    branches = []
    for byte in sorted(key for key in node if key != END):
        run, child = bytearray([byte]), node[byte]
        while len(child) == 1 and END not in child:
            (next_byte, child), *_ = child.items()
            run.append(next_byte)
        branches.append(re.escape(bytes(run)) + _node_pattern(child))
    if not branches:
        return b""
    body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
    return b"(?:" + body + b")?" if END in node else body


class SecretValues(Protocol):
    """A store of secrets that may change while the bot runs (``SecretStore``)."""

    def all_values(self) -> list[str]: ...


class LiveMasker:
    """The Masker of a long-lived sink (a reporter, the web app): it follows the
    secret store, rebuilt only when the set of values changed.  A sink masking many
    strings at once (a Slack message's blocks) takes ``current()`` once for all."""

    def __init__(self, source: SecretValues) -> None:
        self._source = source
        self._current: tuple[frozenset[str], Masker] = (frozenset(), Masker(()))

    def current(self) -> Masker:
        values = frozenset(self._source.all_values())
        known, masker = self._current  # one read: another thread may swap it
        if values != known:
            masker = Masker(values)
            self._current = (values, masker)
        return masker

    def __call__(self, text: str) -> str:
        return self.current().hide(text)


def masker_for(secrets: Mapping[str, str] | SecretValues | None) -> Callable[[], Masker]:
    """What a sink asks for its Masker: fixed values', or a live secret store's."""
    if secrets is None or isinstance(secrets, Mapping):
        fixed = Masker((secrets or {}).values())
        return lambda: fixed
    return LiveMasker(secrets).current


def text_masker(secrets: Mapping[str, str] | SecretValues | None) -> Callable[[str], str]:
    """``masker_for``, for a sink that masks one text at a time."""
    current = masker_for(secrets)
    return lambda text: current().hide(text)
