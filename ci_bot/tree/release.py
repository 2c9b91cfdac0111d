"""``release``: which of an Exec's ``$CI_DATA`` files a tag's pipeline publishes.

``release = ["dist/*"]`` publishes the matching files (with the ``.sig`` and
``.provenance.json`` files ``sign`` wrote beside them) to the GitHub Release of
the tag; ``release = {files = ["dist/*"], notes = "NOTES.md"}`` also names the
release notes, a file the node wrote in ``$CI_DATA``.  Without ``notes`` the bot
writes them from the commits since the previous tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_KEYS = ("files", "notes")


class ReleaseProblem(ValueError):
    """What is wrong with a ``release`` value; ``at`` leads to the item inside it."""

    def __init__(self, message: str, at: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.at = at


@dataclass(frozen=True)
class ReleaseSpec:
    files: tuple[str, ...]
    notes: str | None = None  # relative to $CI_DATA


def read_release(value: Any) -> ReleaseSpec:
    if isinstance(value, list | tuple):
        return ReleaseSpec(files=_read_globs(value, ()))
    if not isinstance(value, Mapping):
        raise ReleaseProblem(
            'must be a list of globs such as ["dist/*"], or a table {files = […], notes = "…"}'
        )
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        message = f"unknown key {unknown[0]!r}; release takes 'files' and 'notes'"
        raise ReleaseProblem(message, (unknown[0],))
    if "files" not in value:
        raise ReleaseProblem("needs 'files', the globs of the $CI_DATA files to publish")
    files = _read_globs(value["files"], ("files",))
    notes = value.get("notes")
    if notes is not None:
        if not isinstance(notes, str) or not notes.strip():
            raise ReleaseProblem("notes must name a file in $CI_DATA", ("notes",))
        _check_relative(notes, ("notes",))
    return ReleaseSpec(files=files, notes=notes)


def write_release(value: ReleaseSpec) -> list[str] | dict[str, Any]:
    if value.notes is None:
        return list(value.files)
    return {"files": list(value.files), "notes": value.notes}


def _read_globs(value: Any, at: tuple[str | int, ...]) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ReleaseProblem('must be a non-empty list of globs such as ["dist/*"]', at)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ReleaseProblem("each glob must be a non-empty string", (*at, index))
        _check_relative(item, (*at, index))
    return tuple(value)


def _check_relative(pattern: str, at: tuple[str | int, ...]) -> None:
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise ReleaseProblem(f"{pattern!r} must be relative to $CI_DATA, without '..'", at)
