"""What the pages draw, computed once in Python: the tree with states, icons,
durations and attempts; the P/Q/R/D/E/S counts; links to GitHub; where a pipeline
came from and what *Rerun* would do with it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ci_bot.console import ICONS
from ci_bot.engine.relaunch import has_snapshot
from ci_bot.engine.scheduler import node_states
from ci_bot.github.manual import BY_META, RERUN_META, rerun_of
from ci_bot.services import Services
from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import utcnow
from ci_bot.tree.durations import format_duration
from ci_bot.tree.nodes import Node, join_path
from ci_bot.tree.states import State
from ci_bot.web.ui.github import web_url

# Conducto's counters over Execs: Pending, Queued, Running, Done, Errored, Skipped.
COUNTERS = (
    ("P", "pending", (State.PENDING,)),
    ("Q", "queued", (State.QUEUED,)),
    ("R", "running", (State.RUNNING,)),
    ("D", "done", (State.DONE,)),
    ("E", "errored", (State.ERROR, State.WORKER_ERROR)),
    ("S", "skipped or cancelled", (State.SKIPPED, State.CANCELLED)),
)


@dataclass(frozen=True)
class TreeItem:
    path: str
    name: str
    type: str
    state: str
    icon: str
    duration: str
    attempts: int
    message: str
    skip_reason: str
    started_at: str  # ISO times the page's clock ticks from while running
    ended_at: str
    children: list[TreeItem] = field(default_factory=list)


def icon(state: str) -> str:
    return ICONS[State(state)]


def counts(by_state: Mapping[str, int]) -> list[tuple[str, str, int]]:
    """(letter, what it counts, how many) from the number of Execs in each state."""
    return [
        (letter, title, sum(by_state.get(member.value, 0) for member in members))
        for letter, title, members in COUNTERS
    ]


def pipeline_tree(services: Services, pipeline_id: int) -> tuple[TreeItem, dict[str, int]]:
    """The tree to draw, and how many of its Execs are in each state."""
    store = services.store
    tree = store.tree(pipeline_id)
    exec_states = store.exec_states(pipeline_id)
    states = node_states(tree, exec_states)
    runs: dict[str, list[Execution]] = {}
    for execution in store.executions(pipeline_id):
        runs.setdefault(execution.path, []).append(execution)
    records = {record.path: record for record in store.nodes(pipeline_id)}

    def item(path: str, node: Node) -> TreeItem:
        children = [item(join_path(path, child.name), child) for child in node.children]
        mine = runs.get(path, [])
        spans = [_span(mine[-1])] if mine else [(c.started_at, c.ended_at) for c in children]
        started, ended = _overall(spans)
        record = records[path]
        return TreeItem(
            path=path,
            name=node.name if path != "/" else "/",
            type=node.type.value,
            state=states[path].value,
            icon=icon(states[path].value),
            duration=_duration(started, ended),
            attempts=len(mine),
            message=record.message,
            skip_reason=record.skip_reason,
            started_at=started,
            ended_at=ended,
            children=children,
        )

    return item("/", tree), dict(Counter(state.value for state in exec_states.values()))


def _span(execution: Execution) -> tuple[str, str]:
    return _iso(execution.started_at), _iso(execution.ended_at)


def _overall(spans: list[tuple[str, str]]) -> tuple[str, str]:
    """From the first start to the last end; no end while any part still runs."""
    started = [start for start, _ in spans if start]
    if not started:
        return "", ""
    running = any(start and not end for start, end in spans)
    ends = [end for _, end in spans if end]
    return min(started), "" if running or not ends else max(ends)


def _duration(started: str, ended: str) -> str:
    if not started:
        return ""
    end = datetime.fromisoformat(ended.rstrip("Z")) if ended else utcnow()
    return format_duration((end - datetime.fromisoformat(started.rstrip("Z"))).total_seconds())


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z" if moment else ""


@dataclass(frozen=True)
class Links:
    repo: str | None
    commit: str | None
    pr: str | None
    branch: str | None


def github_links(services: Services, pipeline: Pipeline) -> Links:
    """Links to the repository, commit, pull request and branch on GitHub (local runs: none)."""
    if pipeline.repo.count("/") != 1:
        return Links(None, None, None, None)
    base = f"{web_url(services.settings)}/{pipeline.repo}"
    return Links(
        repo=base,
        commit=f"{base}/commit/{pipeline.sha}" if pipeline.sha else None,
        pr=f"{base}/pull/{pipeline.pr}" if pipeline.pr.isdigit() else None,
        branch=f"{base}/tree/{pipeline.branch}" if pipeline.branch else None,
    )


@dataclass(frozen=True)
class Origin:
    started_by: str  # who started it by hand ("" when an event did)
    rerun_of: int | None  # the pipeline it ran again
    rerun: str  # what *Rerun* does, in words; "" when it cannot


def origin(services: Services, pipeline: Pipeline) -> Origin:
    meta = services.store.meta(pipeline.id)
    again = rerun_of(services.store, pipeline, "")
    if again is None:
        rerun = "a new pipeline on the same files" if has_snapshot(pipeline) else ""
    elif again.pr is not None:
        rerun = f"a new pipeline on the newest commit of pull request #{again.pr}"
    elif again.tag:
        rerun = f"a new pipeline on tag {again.tag}"
    elif again.sha:
        rerun = "a new pipeline on the same commit"
    else:
        rerun = f"a new pipeline on the newest commit of {again.branch}"
    previous = meta.get(RERUN_META)
    return Origin(
        started_by=str(meta.get(BY_META) or ""),
        rerun_of=previous if isinstance(previous, int) else None,
        rerun=rerun,
    )
