"""Reading ``conducto.cfg``: event entries (when to launch) and pipeline trees (what runs).

``parse_config`` collects every problem before raising one ``ConfigError``, each
problem naming the file, the line and the key, so a person fixes them all in
one go instead of one per push.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import tomli

from ci_bot.errors import ConfigError, ConfigProblem
from ci_bot.tree.build import (
    MAX_DEPTH,
    check_name,
    is_child_table,
    looks_like_misspelt_param,
    read_params,
    read_structure,
    unknown_node_key,
)
from ci_bot.tree.cron import CronSchedule, parse_cron
from ci_bot.tree.expand import expand_matrices
from ci_bot.tree.filters import Filter
from ci_bot.tree.locate import locate_toml
from ci_bot.tree.nodes import Node, NodeType
from ci_bot.tree.params import ItemError, read_filter, read_string
from ci_bot.tree.paths import check_pattern
from ci_bot.tree.problems import KeyPath, ProblemLog, line_with_most, unknown_key

CONFIG_FILES = ("conducto.cfg", ".conducto.cfg")  # the first one present wins
EVENTS = ("pr", "push", "create-branch", "delete-branch", "create-tag", "delete-tag", "cron")
DEFAULT_PIPELINE = "main"


class Duplicate(StrEnum):
    """What to do when a pipeline with the same key is still active."""

    CANCEL_OLD = "cancel-old"
    DEFER = "defer"
    SUPPRESS_NEW = "suppress-new"
    ALLOW = "allow"


ENTRY_KEYS: dict[str, str] = {
    "pipeline": 'Which [pipeline.NAME] tree to run (default "main").',
    "filter": "A filter over the event; the first entry whose filter holds launches.",
    "duplicate": "cancel-old | defer | suppress-new | allow: what to do when the same "
    "branch or pull request still has an active pipeline.",
    "slack_channel": "The Slack channel for this entry's pipelines (overrides the default).",
    "command": "Instead of `pipeline`: a command run at the commit that prints a tree as JSON.",
    "image": "The image the `command` runs in.",
    "schedule": 'cron only: five-field schedule, UTC ("0 3 * * *").',
    "branch": "cron only: the branch a scheduled pipeline builds.",
    "changes_everything": "Paths whose change counts as every file changed for changed(); "
    "default: the config file and a `command`'s script.",
}


@dataclass(frozen=True)
class EventEntry:
    event: str
    index: int  # position among this event's entries, from 0
    line: int
    pipeline: str | None = None
    filter: Filter | None = None
    duplicate: Duplicate = Duplicate.ALLOW
    slack_channel: str | None = None
    command: str | None = None
    image: str | None = None
    schedule: CronSchedule | None = None
    branch: str | None = None
    changes_everything: tuple[str, ...] | None = None  # None: the default (select.py)

    @property
    def label(self) -> str:
        return f"[{self.event}] #{self.index + 1} (line {self.line})"


@dataclass(frozen=True)
class Config:
    file: str
    entries: tuple[EventEntry, ...]
    pipelines: Mapping[str, Node]

    def entries_for(self, event: str) -> list[EventEntry]:
        return [entry for entry in self.entries if entry.event == event]


def parse_config(source: str, file: str = "conducto.cfg") -> Config:
    """Parse the text of a conducto.cfg; raises ConfigError listing every problem."""
    try:
        data = tomli.loads(source)
    except tomli.TOMLDecodeError as error:
        problem = ConfigProblem(
            file, error.lineno, f"not valid TOML: {error.msg}", column=error.colno
        )
        raise ConfigError([problem]) from None
    except RecursionError:  # tomli's limit on nesting and on the parts of a dotted key
        line = line_with_most(source, "[{.")
        problem = ConfigProblem(file, line, "not valid TOML: nested or dotted too deeply")
        raise ConfigError([problem]) from None
    log = ProblemLog(file, locate_toml(source), describe=_dotted)
    for key in data:
        if key not in (*EVENTS, "pipeline"):
            log.add((key,), unknown_key(key, (*EVENTS, "pipeline"), "at the top level"))
    pipelines = _read_pipelines(data.get("pipeline", {}), log)
    entries = [entry for event in EVENTS for entry in _read_event(event, data, pipelines, log)]
    if not entries and not pipelines and not log.problems:
        log.add((), "nothing to run: add a [pipeline.main] tree and a [push] or [pr] section")
    log.raise_if_any()
    return Config(file=file, entries=tuple(entries), pipelines=pipelines)


def _dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --- trees ----------------------------------------------------------------------------


def _read_pipelines(section: Any, log: ProblemLog) -> dict[str, Node]:
    if not isinstance(section, Mapping):
        log.add(("pipeline",), "must be tables such as [pipeline.main]")
        return {}
    pipelines: dict[str, Node] = {}
    for name, table in section.items():
        path: KeyPath = ("pipeline", name)
        if not isinstance(table, Mapping):
            log.add(path, f"must be a table: write [pipeline.{name}] with nodes below it")
            continue
        if check_name(name, path, log):
            tree = _read_node("/", table, path, log)
            pipelines[name] = expand_matrices(tree, path, log, _child_path)
    return pipelines


def _child_path(path: KeyPath, index: int, name: str) -> KeyPath:
    return (*path, name)


def _read_node(name: str, table: Mapping[str, Any], path: KeyPath, log: ProblemLog) -> Node:
    if len(path) - 2 > MAX_DEPTH:  # path is ("pipeline", NAME, *node names)
        log.add(path, f"nodes may nest at most {MAX_DEPTH} deep")
        return Node(name=name, type=NodeType.SERIAL)
    params, rest = read_params(table, path, log)
    run, parallel = read_structure(rest, path, log)
    children: list[Node] = []
    confused = False
    for key, value in rest.items():
        if key in ("run", "parallel") and not is_child_table(key, value):
            continue
        if isinstance(value, Mapping) and not looks_like_misspelt_param(key, value):
            if check_name(key, (*path, key), log):
                children.append(_read_node(key, value, (*path, key), log))
            else:
                confused = True  # a child is there, so "is empty" would be wrong
        else:
            log.add((*path, key), unknown_node_key(key))
            confused = True
    if run is not None and children:
        log.add((*path, "run"), "a node with `run` is an Exec and cannot have child tables")
    elif run is None and not children and not confused and "run" not in rest:
        log.add(path, "is empty: give it a `run` command or child tables")
    node_type = (
        NodeType.EXEC if run is not None else (NodeType.PARALLEL if parallel else NodeType.SERIAL)
    )
    return Node(name=name, type=node_type, run=run, params=params, children=tuple(children))


# --- event entries ----------------------------------------------------------------------


def _read_event(
    event: str, data: Mapping[str, Any], pipelines: Mapping[str, Node], log: ProblemLog
) -> list[EventEntry]:
    section = data.get(event)
    if section is None:
        return []
    if isinstance(section, Mapping):
        tables: list[tuple[KeyPath, Any]] = [((event,), section)]
    elif isinstance(section, list):
        tables = [((event, index), table) for index, table in enumerate(section)]
    else:
        log.add((event,), f"must be a table [{event}] or tables [[{event}]]")
        return []
    entries = []
    for index, (path, table) in enumerate(tables):
        if not isinstance(table, Mapping):
            log.add(path, f"must be a table [{event}] or tables [[{event}]]")
            continue
        entry = _read_entry(event, index, table, path, log)
        _check_entry(entry, table, path, pipelines, log)
        entries.append(entry)
    return entries


def read_duplicate(value: Any) -> Duplicate:
    try:
        return Duplicate(read_string(value))
    except ValueError:
        choices = ", ".join(d.value for d in Duplicate)
        raise ValueError(f"{value!r} is not a duplicate policy; use one of {choices}") from None


def read_schedule(value: Any) -> CronSchedule:
    return parse_cron(read_string(value))


def read_path_globs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError('must be a list of path globs such as ["conducto.cfg", "libs/**"]')
    for index, item in enumerate(value):
        try:
            check_pattern(read_string(item))
        except ValueError as error:
            raise ItemError(str(error), (index,)) from None
    return tuple(value)


_ENTRY_READERS = {
    "filter": read_filter,
    "duplicate": read_duplicate,
    "schedule": read_schedule,
    "changes_everything": read_path_globs,
}


def _read_entry(
    event: str, index: int, table: Mapping[str, Any], path: KeyPath, log: ProblemLog
) -> EventEntry:
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in ENTRY_KEYS:
            log.add((*path, key), unknown_key(key, ENTRY_KEYS, f"in [{event}]"))
            continue
        typed = log.read((*path, key), _ENTRY_READERS.get(key, read_string), value)
        if typed is not None:
            values[key] = typed
    values.setdefault("duplicate", Duplicate.CANCEL_OLD if event == "pr" else Duplicate.ALLOW)
    if "command" not in values:
        values.setdefault("pipeline", DEFAULT_PIPELINE)
    return EventEntry(event=event, index=index, line=log.locations.line_of(path), **values)


def _check_entry(
    entry: EventEntry,
    table: Mapping[str, Any],
    path: KeyPath,
    pipelines: Mapping[str, Node],
    log: ProblemLog,
) -> None:
    if "command" in table and "pipeline" in table:
        log.add((*path, "command"), "give either `command` (a generated tree) or `pipeline`")
    if "image" in table and "command" not in table:
        log.add((*path, "image"), "`image` is the image of a `command`; a tree sets its own")
    if entry.event != "cron":
        for key in ("schedule", "branch"):
            if key in table:
                log.add((*path, key), f"`{key}` belongs to [[cron]] entries only")
    elif "schedule" not in table:
        log.add(path, 'a [[cron]] entry needs a schedule, such as schedule = "0 3 * * *"')
    if "command" in table:
        return
    name = table.get("pipeline", DEFAULT_PIPELINE)
    if isinstance(name, str) and name not in pipelines:
        where = (*path, "pipeline") if "pipeline" in table else path
        known = ", ".join(sorted(pipelines)) or "none"
        log.add(
            where, f"names pipeline {name!r}, but there is no [pipeline.{name}] (known: {known})"
        )
