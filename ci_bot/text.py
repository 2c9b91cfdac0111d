"""Text from outside shown as itself: control characters made visible (pure).

A branch may be named ``main\\x1b]0;pwned\\x07``: written raw to a terminal it
retitles the window, and an escape sequence can move the cursor, hide lines or
rewrite what a person reads.  Every sink that shows text a repository, a pull
request or a node controls (the terminal, check runs, Slack) passes it through
``printable`` first, which writes each control character as a visible escape
(``\\x1b``) instead of sending it.

Escaped: the C0 controls (but the line ends and tabs a sink keeps), DEL, the C1
controls (U+0080–U+009F, which some terminals obey as ESC sequences), and the
bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) that can
make text read differently from what it is.
"""

from __future__ import annotations

import re
from typing import Any

KEEP_LINES = "\n\t"
_BIDI = "\u202a-\u202e\u2066-\u2069"
# SGR ("colour") sequences: ESC [ digits and semicolons m.  They only colour text.
_SGR = re.compile(r"\x1b\[[0-9;]{0,32}m")


def _controls(keep: str) -> re.Pattern[str]:
    kept = {ord(c) for c in keep}
    singles = "".join(f"\\x{code:02x}" for code in range(0x20) if code not in kept)
    return re.compile(f"[{singles}\\x7f-\\x9f{_BIDI}]")


_PATTERNS: dict[str, re.Pattern[str]] = {}


def printable(text: str, *, keep: str = "", colours: bool = False) -> str:
    """``text`` with every control character written as a visible escape.

    ``keep`` lists the controls the sink handles itself (``KEEP_LINES``: ``\\n`` and
    ``\\t`` for multi-line text); ``colours`` keeps SGR colour sequences (a node's
    log tail on a terminal) while escaping every other escape sequence.
    """
    pattern = _PATTERNS.get(keep)
    if pattern is None:
        pattern = _PATTERNS.setdefault(keep, _controls(keep))
    if not colours:
        return pattern.sub(_visible, text)
    pieces = []
    start = 0
    for match in _SGR.finditer(text):
        pieces.append(pattern.sub(_visible, text[start : match.start()]))
        pieces.append(match.group())
        start = match.end()
    pieces.append(pattern.sub(_visible, text[start:]))
    return "".join(pieces)


def without_colours(text: str) -> str:
    """``text`` without its SGR colour sequences (for sinks that cannot show colour)."""
    return _SGR.sub("", text)


def printable_all(value: Any, *, keep: str = KEEP_LINES) -> Any:
    """``value`` (strings, lists, dicts, as a JSON body holds them) with every string
    passed through ``printable``; dict keys are the sender's own and stay."""
    if isinstance(value, str):
        return printable(value, keep=keep)
    if isinstance(value, list | tuple):
        return [printable_all(item, keep=keep) for item in value]
    if isinstance(value, dict):
        return {key: printable_all(item, keep=keep) for key, item in value.items()}
    return value


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
