"""Suggestions ("did you mean …?") for what people type on the command line: event names
and node paths.

Pure: known names in, the likely intended ones out.  Other CI systems' names for
our events (``pull_request``, ``schedule``) are mapped, not guessed at.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ci_bot.tree.config import EVENTS

# GitHub's (and other systems') names for the events of a conducto.cfg.
EVENT_ALIASES = {
    "pull_request": ("pr",),
    "pull_request_target": ("pr",),
    "pull-request": ("pr",),
    "pullrequest": ("pr",),
    "merge_request": ("pr",),
    "mr": ("pr",),
    "schedule": ("cron",),
    "scheduled": ("cron",),
    "create": ("create-branch", "create-tag"),
    "delete": ("delete-branch", "delete-tag"),
    "tag": ("create-tag",),
    "release": ("create-tag",),
    "branch": ("create-branch",),
    "commit": ("push",),
}


def events_meant(name: str) -> tuple[str, ...]:
    """The events someone typing ``name`` (not an event) probably meant; may be empty."""
    key = name.strip().lower()
    if key in EVENT_ALIASES:
        return EVENT_ALIASES[key]
    normal = key.replace("_", "-")
    if normal in EVENTS:
        return (normal,)
    return tuple(difflib.get_close_matches(normal, EVENTS, n=1, cutoff=0.6))


def unknown_event(name: str) -> str:
    """The sentence for an event name that is none of ours."""
    message = f"{name!r} is not an event; events are {', '.join(EVENTS)}"
    meant = events_meant(name)
    return f"{message}; did you mean {_either(meant)}?" if meant else message


def path_meant(path: str, paths: Iterable[str]) -> str | None:
    """The node path someone typing ``path`` (not a path of the tree) probably meant:
    the slash they left out, a trailing one too many, a typo, or a node's bare name."""
    known = list(paths)
    for candidate in ("/" + path.lstrip("/"), path.rstrip("/") or "/"):
        if candidate in known:
            return candidate
    leaf = path.strip("/").rsplit("/", 1)[-1]
    named = [p for p in known if p.rsplit("/", 1)[-1] == leaf]
    if len(named) == 1:
        return named[0]
    below_root = [p for p in known if p != "/"]  # "/" is too short to be near anything
    close = difflib.get_close_matches("/" + path.lstrip("/"), below_root, n=1, cutoff=0.6)
    return close[0] if close else None


def _either(names: tuple[str, ...]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
