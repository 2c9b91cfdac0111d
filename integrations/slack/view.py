"""What the Slack message shows about a pipeline, read from the store in one go.

``pipeline_view`` does the reading; everything after it (``blocks.py``) is pure.
The view holds nothing that changes with the clock, so two views of an
unchanged pipeline are equal and an unchanged message is never sent again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ci_bot.engine.scheduler import node_states
from ci_bot.settings import Settings
from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import Store
from ci_bot.tree.nodes import Node, join_path
from ci_bot.tree.states import State
from ci_bot.tree.treejson import from_json
from ci_bot.web.urls import pipeline_url

_GITHUB_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class FailedExec:
    path: str
    state: State
    message: str


@dataclass(frozen=True)
class Stage:
    """A child of the root (or the root itself when it is a lone Exec)."""

    name: str
    state: State
    seconds: float | None  # from its first start to its last end; None until it is over
    failed: tuple[FailedExec, ...] = ()


@dataclass(frozen=True)
class Links:
    pipeline: str  # the bot's page
    repo: str = ""  # GitHub's pages; empty when the repository is not on GitHub
    ref: str = ""
    commit: str = ""


@dataclass(frozen=True)
class PipelineView:
    pipeline: Pipeline
    state: State
    stages: tuple[Stage, ...]
    counts: Mapping[str, int]
    links: Links
    can_rerun: bool = False

    @property
    def failed(self) -> bool:
        return self.state.is_failure


def pipeline_view(
    store: Store, settings: Settings, pipeline_id: int, *, can_rerun: bool
) -> PipelineView:
    pipeline = store.pipeline(pipeline_id)
    # Parsed here, not taken from the store's cache: the engine drops a finished
    # pipeline's tree from it, and the reporter must not bring it back for good.
    tree = from_json(pipeline.tree_json)
    exec_states = store.exec_states(pipeline_id)
    states = node_states(tree, exec_states)
    latest = {execution.path: execution for execution in store.executions(pipeline_id)}
    children = tree.children or (tree,)
    stages = tuple(
        _stage(child, "/" if child is tree else join_path("/", child.name), states, latest)
        for child in children
    )
    return PipelineView(
        pipeline=pipeline,
        state=states["/"],
        stages=stages,
        counts=count_states(exec_states.values()),
        links=links(settings, pipeline),
        can_rerun=can_rerun,
    )


def _stage(
    node: Node, path: str, states: Mapping[str, State], latest: Mapping[str, Execution]
) -> Stage:
    below = [e for p, e in latest.items() if p == path or p.startswith(path.rstrip("/") + "/")]
    failed = tuple(
        FailedExec(e.path, states.get(e.path, e.state), e.message)
        for e in below
        if states.get(e.path, e.state).is_failure
    )
    state = states[path]
    return Stage(node.name if path != "/" else "/", state, _span(below, state), failed)


def _span(executions: list[Execution], state: State) -> float | None:
    starts = [e.started_at for e in executions if e.started_at]
    ends = [e.ended_at for e in executions if e.ended_at]
    if not state.is_finished or not starts or not ends:
        return None
    return max(0.0, (max(ends) - min(starts)).total_seconds())


def count_states(states: Iterable[State]) -> dict[str, int]:
    """Execs per column of the message: pending (and queued), running, done, error, …"""
    columns = {"pending": 0, "running": 0, "done": 0, "error": 0, "skipped": 0, "cancelled": 0}
    column_of = {State.QUEUED: "pending", State.WORKER_ERROR: "error"}
    for state in states:
        columns[column_of.get(state, state.value)] += 1
    return columns


def links(settings: Settings, pipeline: Pipeline) -> Links:
    bot = pipeline_url(settings, pipeline.id)
    web = github_web_url(settings.github_api_url)
    if not web or not _GITHUB_REPO.fullmatch(pipeline.repo):
        return Links(bot)
    repo = f"{web}/{pipeline.repo}"
    if pipeline.pr:
        ref = f"{repo}/pull/{quote(pipeline.pr)}"
    elif pipeline.tag or pipeline.branch:
        ref = f"{repo}/tree/{quote(pipeline.tag or pipeline.branch)}"
    else:
        ref = ""
    commit = f"{repo}/commit/{quote(pipeline.sha)}" if pipeline.sha else ""
    return Links(bot, repo, ref, commit)


def github_web_url(api_url: str) -> str:
    """GitHub's web address for its API's: github.com, or a GitHub Enterprise host."""
    api = api_url.rstrip("/")
    if api == "https://api.github.com":
        return "https://github.com"
    if api.endswith("/api/v3"):
        return api.removesuffix("/api/v3")
    return ""
