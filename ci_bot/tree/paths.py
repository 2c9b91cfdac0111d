"""Globs over repository paths: what ``changed("…")``, ``for_each`` and
``changes_everything`` match.

Paths are relative to the repository's root and use ``/``.  A pattern is matched
one segment at a time: ``*`` and ``?`` (and ``[abc]``) stay inside a segment, and
a segment ``**`` matches any number of segments, none included.  Dots are not
special: ``*`` matches ``.github`` too.  ``covers`` also accepts a pattern that names one of
the directories a path lies in, so ``services/a`` and ``services/a/**`` both
cover ``services/a/src/app.py``: "something in there changed".
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from functools import lru_cache


def check_pattern(pattern: str) -> str:
    """``pattern`` itself when it is a usable relative glob; ValueError otherwise."""
    if not pattern.strip():
        raise ValueError("the path pattern is empty")
    parts = pattern.split("/")
    if pattern.startswith("/") or ".." in parts:
        raise ValueError(f"{pattern!r} must be relative to the repository's root, without '..'")
    return pattern


def matches(pattern: str, path: str) -> bool:
    """Whether the whole of ``path`` matches ``pattern``."""
    return _match(_segments(pattern), tuple(_split(path)))


def covers(pattern: str, path: str) -> bool:
    """Whether ``pattern`` matches ``path`` or one of the directories it lies in."""
    wanted, parts = _segments(pattern), _split(path)
    return any(_match(wanted, tuple(parts[:end])) for end in range(len(parts), 0, -1))


def directories_of(paths: Iterable[str]) -> list[str]:
    """Every directory that holds one of ``paths`` (files), sorted."""
    found: set[str] = set()
    for path in paths:
        parts = _split(path)[:-1]
        found.update("/".join(parts[:end]) for end in range(1, len(parts) + 1))
    return sorted(found)


def _split(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part and part != "."]


@lru_cache(maxsize=512)
def _segments(pattern: str) -> tuple[str, ...]:
    collapsed: list[str] = []
    for part in _split(pattern):
        if not (part == "**" and collapsed and collapsed[-1] == "**"):  # a/**/**/b is a/**/b
            collapsed.append(part)
    return tuple(collapsed)


def _match(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Segment matching; ``reachable`` holds the pattern positions alive after each part,
    so ``**`` costs len(pattern) × len(parts) steps at most, never backtracking."""
    reachable = _after_stars(pattern, {0})
    for part in parts:
        following: set[int] = set()
        for index in reachable:
            if index == len(pattern):
                continue
            if pattern[index] == "**":
                following.add(index)  # ** swallows this part and stays
            elif fnmatch.fnmatchcase(part, pattern[index]):
                following.add(index + 1)
        reachable = _after_stars(pattern, following)
        if not reachable:
            return False
    return len(pattern) in reachable


def _after_stars(pattern: tuple[str, ...], positions: set[int]) -> set[int]:
    """``positions`` plus those reached by letting each ``**`` match nothing."""
    result = set(positions)
    for index in sorted(positions):
        while index < len(pattern) and pattern[index] == "**":
            index += 1
            result.add(index)
    return result
