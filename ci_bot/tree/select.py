"""Which entry and tree an event launches, and which nodes its ``when`` skips.

``select`` tries the event's entries in file order; the first whose filter
holds wins.  When none does, ``NoMatch`` says, for each entry tried, why not —
the question every person asks when a push builds nothing.  The winner's tree
is expanded over the commit's directories (``for_each``) before ``when`` is
applied, each filter seeing what changed since the base (``changed(…)``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import PurePosixPath

from ci_bot.tree.changes import ChangeSet
from ci_bot.tree.config import Config, EventEntry
from ci_bot.tree.expand import expand_for_each
from ci_bot.tree.nodes import Node, join_path


@dataclass(frozen=True)
class Event:
    """What happened, as the filter language sees it (§1)."""

    name: str
    branch: str = ""
    base_branch: str = ""
    tag: str = ""
    sha: str = ""
    repo: str = ""
    pr: str = ""
    author: str = ""
    # When a schedule fired (UTC): a [[cron]] entry applies only when its schedule
    # matches this minute.  None (``ci-bot plan``): every cron entry is a candidate.
    at: datetime | None = None
    # What changed since the base; by default unknown, so every file counts as changed.
    changes: ChangeSet = field(default_factory=ChangeSet)

    def values(self) -> dict[str, str]:
        return {
            "event": self.name,
            "branch": self.branch,
            "base_branch": self.base_branch,
            "tag": self.tag,
            "sha": self.sha,
            "repo": self.repo,
            "pr": self.pr,
            "author": self.author,
        }


@dataclass(frozen=True)
class Plan:
    """The entry that matched and the tree it runs; ``skipped`` maps path → why."""

    entry: EventEntry
    tree: Node | None  # None for a generated tree: it exists once `command` has run
    skipped: Mapping[str, str] = field(default_factory=dict)
    # The event's changes, with the entry's changes_everything applied.
    changes: ChangeSet = field(default_factory=ChangeSet)


@dataclass(frozen=True)
class NoMatch:
    event: Event
    tried: tuple[tuple[EventEntry, str], ...]
    sections: tuple[str, ...]

    def explain(self) -> str:
        if not self.tried:
            present = ", ".join(f"[{name}]" for name in self.sections) or "none"
            return f"no [{self.event.name}] section in the config (sections: {present})"
        lines = [f"no [{self.event.name}] entry matched:"]
        lines += [f"  {entry.label}: {reason}" for entry, reason in self.tried]
        return "\n".join(lines)


def select(config: Config, event: Event, directories: Sequence[str] = ()) -> Plan | NoMatch:
    """The plan of the first entry that matches ``event``; ``directories`` (the commit's,
    relative to its root) are what ``for_each`` expands over."""
    values = event.values()
    tried: list[tuple[EventEntry, str]] = []
    for entry in config.entries_for(event.name):
        changes = event.changes.considering(changes_everything(entry, config.file))
        schedule = entry.schedule
        if schedule is not None and event.at is not None and not schedule.matches(event.at):
            when = event.at.strftime("%Y-%m-%d %H:%M")
            tried.append((entry, f"schedule {schedule.source!r} does not fire at {when} UTC"))
            continue
        if entry.branch and event.branch and entry.branch != event.branch:
            tried.append((entry, f"it builds branch {entry.branch!r}, not {event.branch!r}"))
            continue
        if entry.filter is not None and not entry.filter.evaluate(values, changes):
            why = entry.filter.explain(values, changes)
            tried.append((entry, f"filter {entry.filter.source!r} is false: {why}"))
            continue
        if entry.pipeline is None:
            return Plan(entry=entry, tree=None, changes=changes)
        tree, skipped = prepare(config.pipelines[entry.pipeline], event, changes, directories)
        return Plan(entry=entry, tree=tree, skipped=skipped, changes=changes)
    sections = tuple(dict.fromkeys(entry.event for entry in config.entries))
    return NoMatch(event=event, tried=tuple(tried), sections=sections)


def changes_everything(entry: EventEntry, config_file: str) -> tuple[str, ...]:
    """The paths whose change counts as every file changed: the entry's own list, else the
    config file and, for a generated tree, each word of its command that reads as a path
    in the repository (``python ci/pipeline.py pr`` → ``ci/pipeline.py``)."""
    if entry.changes_everything is not None:
        return entry.changes_everything
    found = [PurePosixPath(config_file).name]
    try:
        words = shlex.split(entry.command or "")
    except ValueError:  # unbalanced quotes: the command fails on its own
        words = []
    for word in words:
        if "/" in word and not word.startswith(("-", "/", "$")) and ".." not in word:
            found.append(word.removeprefix("./"))
    return tuple(found)


def prepare(
    root: Node, event: Event, changes: ChangeSet, directories: Sequence[str] = ()
) -> tuple[Node, dict[str, str]]:
    """``root`` expanded over ``directories`` (``for_each``) with its ``when`` applied."""
    expanded, skipped = expand_for_each(root, directories)
    tree, more = apply_when(expanded, event, changes)
    return tree, {**more, **skipped}  # "matches no directory" says more than "skip = true"


def apply_when(
    root: Node, event: Event, changes: ChangeSet | None = None
) -> tuple[Node, dict[str, str]]:
    """``root`` with every node whose ``when`` is false (or that says ``skip``) marked skipped."""
    skipped: dict[str, str] = {}
    facts = _Facts(event.values(), event.changes if changes is None else changes)
    return _mark(root, "/", facts, skipped), skipped


@dataclass(frozen=True)
class _Facts:
    values: dict[str, str]
    changes: ChangeSet


def _mark(node: Node, path: str, facts: _Facts, skipped: dict[str, str]) -> Node:
    when = node.params.when
    if node.params.skip:
        skipped[path] = "skip = true in the config"
        return node
    if when is not None and not when.evaluate(facts.values, facts.changes):
        why = when.explain(facts.values, facts.changes)
        skipped[path] = f"when {when.source!r} is false: {why}"
        return replace(node, params=replace(node.params, skip=True))
    children = tuple(_mark(c, join_path(path, c.name), facts, skipped) for c in node.children)
    return replace(node, children=children) if children != node.children else node
