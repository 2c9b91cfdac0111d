"""Annotations from failing logs: ``path:line[:col]: message`` as ruff, mypy, flake8,
pytest and gcc print it, kept only for files that exist at the commit.

Pure: lines in, annotation dicts (the Checks API's shape) out.  GitHub takes at
most 50 per request, so ``batches`` cuts them up.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ci_bot.executors.logs import NOTE_PREFIX, parse_timestamp
from ci_bot.text import printable

PER_REQUEST = 50
MAX_ANNOTATIONS = 500  # beyond this a person reads the log, not the diff
MAX_MESSAGE = 4000

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOCATED = re.compile(
    r"^(?P<path>[^\s:][^:]*?):(?P<line>\d+)(?::(?P<col>\d+))?:\s*(?P<message>\S.*)$"
)
# ruff's default ("full") format puts the message first and points at the place after it:
#   F401 [*] `os` imported but unused
#    --> src/app.py:1:8
_POINTER = re.compile(r"^-->\s*(?P<path>[^\s:][^:]*?):(?P<line>\d+)(?::(?P<col>\d+))?$")
_LEVELS = (("warning", "warning"), ("note", "notice"), ("info", "notice"))
_WORKSPACE = "/workspace/"


def log_text(line: str) -> str:
    """A log line without its timestamp and colour codes, other controls made visible."""
    if parse_timestamp(line) is not None:
        line = line.split(" ", 1)[1] if " " in line else ""
    return printable(_ANSI.sub("", line).rstrip(), keep="\t")


def parse_annotations(lines: Iterable[str], exists: Callable[[str], bool]) -> list[dict[str, Any]]:
    """Every located problem in ``lines`` whose path ``exists`` at the commit, once each."""
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, int, str]] = set()
    previous = ""
    for raw in lines:
        text = log_text(raw).strip()
        if text.startswith(NOTE_PREFIX.strip()):
            continue
        annotation = _annotation(text, previous)
        previous = text or previous
        if annotation is None or not exists(annotation["path"]):
            continue
        key = (annotation["path"], annotation["start_line"], annotation["message"])
        if key not in seen:
            seen.add(key)
            found.append(annotation)
        if len(found) >= MAX_ANNOTATIONS:
            break
    return found


def _annotation(text: str, previous: str) -> dict[str, Any] | None:
    pointer = _POINTER.match(text)
    match = pointer or _LOCATED.match(text)
    if match is None:
        return None
    path = clean_path(match["path"])
    line = int(match["line"])
    message = (previous if pointer else match["message"])[:MAX_MESSAGE]
    if path is None or line < 1 or not message or message.isdigit():
        return None
    annotation: dict[str, Any] = {
        "path": path,
        "start_line": line,
        "end_line": line,
        "annotation_level": _level(message),
        "message": message,
    }
    if match["col"] and int(match["col"]) >= 1:
        annotation["start_column"] = annotation["end_column"] = int(match["col"])
    return annotation


def clean_path(path: str) -> str | None:
    """A repository-relative path, or None for one that leaves the repository."""
    if path.startswith(_WORKSPACE):
        path = path[len(_WORKSPACE) :]
    if path.startswith("/"):
        return None
    normal = posixpath.normpath(path)
    if normal.startswith("..") or normal == ".":
        return None
    return normal


def _level(message: str) -> str:
    head = message.split(":", 1)[0].strip().lower() if ":" in message else ""
    for word, level in _LEVELS:
        if head == word:
            return level
    return "failure"


def batches(annotations: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(annotations), PER_REQUEST):
        yield annotations[start : start + PER_REQUEST]
