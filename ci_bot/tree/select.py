"""Which entry and tree an event launches, and which nodes its ``when`` skips.

``select`` tries the event's entries in file order; the first whose filter
holds wins.  When none does, ``NoMatch`` says, for each entry tried, why not —
the question every person asks when a push builds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from ci_bot.tree.config import Config, EventEntry
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


def select(config: Config, event: Event) -> Plan | NoMatch:
    values = event.values()
    tried: list[tuple[EventEntry, str]] = []
    for entry in config.entries_for(event.name):
        schedule = entry.schedule
        if schedule is not None and event.at is not None and not schedule.matches(event.at):
            when = event.at.strftime("%Y-%m-%d %H:%M")
            tried.append((entry, f"schedule {schedule.source!r} does not fire at {when} UTC"))
            continue
        if entry.branch and event.branch and entry.branch != event.branch:
            tried.append((entry, f"it builds branch {entry.branch!r}, not {event.branch!r}"))
            continue
        if entry.filter is not None and not entry.filter.evaluate(values):
            tried.append(
                (entry, f"filter {entry.filter.source!r} is false: {entry.filter.explain(values)}")
            )
            continue
        if entry.pipeline is None:
            return Plan(entry=entry, tree=None)
        tree, skipped = apply_when(config.pipelines[entry.pipeline], event)
        return Plan(entry=entry, tree=tree, skipped=skipped)
    sections = tuple(dict.fromkeys(entry.event for entry in config.entries))
    return NoMatch(event=event, tried=tuple(tried), sections=sections)


def apply_when(root: Node, event: Event) -> tuple[Node, dict[str, str]]:
    """``root`` with every node whose ``when`` is false (or that says ``skip``) marked skipped."""
    skipped: dict[str, str] = {}
    return _mark(root, "/", event.values(), skipped), skipped


def _mark(node: Node, path: str, values: dict[str, str], skipped: dict[str, str]) -> Node:
    when = node.params.when
    if node.params.skip:
        skipped[path] = "skip = true in the config"
        return node
    if when is not None and not when.evaluate(values):
        skipped[path] = f"when {when.source!r} is false: {when.explain(values)}"
        return replace(node, params=replace(node.params, skip=True))
    children = tuple(_mark(c, join_path(path, c.name), values, skipped) for c in node.children)
    return replace(node, children=children) if children != node.children else node
