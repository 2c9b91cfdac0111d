"""Collecting config problems with their line, so every error is reported at once."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

from ci_bot.errors import ConfigError, ConfigProblem
from ci_bot.tree.locate import Locations

KeyPath = tuple[str | int, ...]


class ProblemLog:
    """Problems found in one source file; ``describe`` turns a key path into words."""

    def __init__(self, file: str, locations: Locations, describe: Callable[[KeyPath], str]) -> None:
        self.file = file
        self.locations = locations
        self.describe = describe
        self.problems: list[ConfigProblem] = []

    def add(self, path: KeyPath, message: str, *, column: int | None = None) -> None:
        where = self.describe(path)
        self.problems.append(
            ConfigProblem(
                file=self.file,
                line=self.locations.line_of(path),
                message=f"{where}: {message}" if where else message,
                key=where,
                column=column,
            )
        )

    def read(self, path: KeyPath, reader: Callable[[Any], Any], value: Any) -> Any:
        """``reader(value)``, or None with the problem recorded (at the item it names, if any)."""
        try:
            return reader(value)
        except ValueError as error:
            at = getattr(error, "at", ())  # an ItemError points inside the value
            self.add((*path, *at), str(error), column=getattr(error, "column", None))
            return None

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def line_with_most(source: str, chars: str) -> int:
    """The 1-based line holding the most of ``chars``.

    For input a parser refuses without saying where (nesting past its limit, a
    number too long to convert), the culprit is the line crowded with brackets
    or digits, and that beats a made-up line 1.
    """
    lines = source.splitlines() or [""]
    counts = [sum(line.count(char) for char in chars) for line in lines]
    return counts.index(max(counts)) + 1


def unknown_key(key: str, known: Iterable[str], what: str) -> str:
    """ "unknown key 'runn' in an Exec; did you mean 'run'?" """
    message = f"unknown key {key!r} {what}"
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f"{message}; did you mean {close[0]!r}?" if close else message
