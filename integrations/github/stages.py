"""What each top-level stage of a pipeline looks like as a GitHub check run.

``stage_reports`` reads the store once and returns, per stage, the check run's
status, conclusion and output: a markdown table of the stage's nodes, the tail
of each failed node's log (masked) and annotations from those logs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_bot.engine.scheduler import node_states
from ci_bot.executors.logs import tail
from ci_bot.settings import Settings
from ci_bot.store.records import Execution, NodeRecord, Pipeline
from ci_bot.store.store import Store, utcnow
from ci_bot.text import printable
from ci_bot.tree.nodes import Node, join_path, walk
from ci_bot.tree.states import State
from ci_bot.web.urls import node_url
from integrations.github.annotations import clean_path, log_text, parse_annotations

MAX_TEXT = 65535
TAIL_LINES = 60
ANNOTATION_LINES = 2000
CHECK_PREFIX = "ci/"
_ACTIVE = (State.QUEUED, State.RUNNING)


@dataclass(frozen=True)
class StageReport:
    path: str  # "/lint"
    name: str  # "ci/lint"
    status: str  # queued | in_progress | completed
    conclusion: str | None
    title: str
    summary: str
    text: str = ""
    annotations: list[dict[str, Any]] = field(default_factory=list)
    details_url: str = ""


@dataclass(frozen=True)
class _Exec:
    path: str
    state: State
    node: NodeRecord
    latest: Execution | None


def stages_of(tree: Node) -> list[tuple[str, Node]]:
    """The top-level stages; a tree that is one Exec (or empty) is its own stage."""
    if tree.is_exec or not tree.children:
        return [("/", tree)]
    return [(join_path("/", child.name), child) for child in tree.children]


def stage_reports(
    store: Store, settings: Settings, pipeline_id: int, mask: Callable[[str], str]
) -> list[StageReport]:
    pipeline = store.pipeline(pipeline_id)
    tree = store.tree(pipeline_id)
    states = node_states(tree, store.exec_states(pipeline_id))
    nodes = {node.path: node for node in store.nodes(pipeline_id)}
    latest: dict[str, Execution] = {}
    for execution in store.executions(pipeline_id):
        latest[execution.path] = execution
    reports = []
    for path, stage in stages_of(tree):
        execs = [
            _Exec(full, states[full], nodes[full], latest.get(full))
            for full in _exec_paths(path, stage)
        ]
        reports.append(_report(settings, pipeline, path, states[path], execs, mask))
    return reports


def _exec_paths(stage_path: str, stage: Node) -> list[str]:
    paths = []
    for sub, node, _ in walk(stage):
        if node.is_exec:
            paths.append(stage_path if sub == "/" else stage_path.rstrip("/") + sub)
    return paths


def _report(
    settings: Settings,
    pipeline: Pipeline,
    path: str,
    state: State,
    execs: list[_Exec],
    mask: Callable[[str], str],
) -> StageReport:
    name = CHECK_PREFIX + (path.strip("/") or "pipeline")
    status, conclusion = _status(state, execs, settled=pipeline.finished_at is not None)
    failed = [e for e in execs if e.state.is_failure and e.latest is not None]
    text, annotations = "", []
    if conclusion in ("failure", "timed_out"):
        text = mask(_failure_text(failed))
        annotations = _annotations(pipeline, failed)
    return StageReport(
        path=path,
        name=name,
        status=status,
        conclusion=conclusion,
        title=_title(status, conclusion, execs),
        summary=_summary(settings, pipeline.id, execs),
        text=text,
        annotations=annotations,
        details_url=node_url(settings, pipeline.id, path),
    )


def _status(state: State, execs: list[_Exec], *, settled: bool) -> tuple[str, str | None]:
    """(status, conclusion): a stage completes once nothing below it runs or may run."""
    active = any(e.state in _ACTIVE for e in execs)
    waiting = any(e.state is State.PENDING for e in execs)
    if active or (waiting and not settled):
        started = active or any(e.latest is not None for e in execs)
        return ("in_progress" if started else "queued"), None
    return "completed", _conclusion(state, execs)


def _conclusion(state: State, execs: list[_Exec]) -> str:
    if state.is_failure:
        failures = [e for e in execs if e.state.is_failure]
        timed_out = all("timed out" in e.node.message for e in failures)
        return "timed_out" if failures and timed_out else "failure"
    if state is State.CANCELLED:
        return "cancelled"
    if state is State.SKIPPED:
        return "skipped"
    ran = any(e.latest is not None and e.state is State.DONE for e in execs)
    return "success" if state is State.DONE and ran else "neutral"


def _title(status: str, conclusion: str | None, execs: list[_Exec]) -> str:
    if status == "queued":
        return "queued"
    counts: dict[str, int] = {}
    for e in execs:
        counts[e.state.value] = counts.get(e.state.value, 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    if conclusion == "neutral":
        return f"nothing ran ({tally})"
    return f"{conclusion or status.replace('_', ' ')}: {tally}"


def _summary(settings: Settings, pipeline_id: int, execs: list[_Exec]) -> str:
    rows = ["| node | state | duration | log |", "|---|---|---|---|"]
    for e in execs:
        link = node_url(settings, pipeline_id, e.path)
        reason = f" ({_cell(e.node.message)})" if e.node.message else ""
        rows.append(
            f"| `{_cell(e.path)}` | {e.state.value}{reason} | {_duration(e.latest)} "
            f"| [log]({link}) |"
        )
    return "\n".join(rows)[:MAX_TEXT]


def _cell(text: str) -> str:
    return printable(text.replace("|", "\\|").replace("\n", " "))[:200]


def _duration(execution: Execution | None) -> str:
    if execution is None or execution.started_at is None:
        return "—"
    end = execution.ended_at or utcnow()  # the store keeps naive UTC
    seconds = max((end - execution.started_at).total_seconds(), 0.0)
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m {int(seconds % 60)}s"


def _failure_text(failed: Iterable[_Exec]) -> str:
    parts: list[str] = []
    for e in failed:
        assert e.latest is not None
        lines = [log_text(line) for line in tail(Path(e.latest.log_path), TAIL_LINES)]
        body = "\n".join(lines).replace("```", "'''")
        why = printable(e.node.message or e.state.value, keep="\n")
        parts.append(f"### `{e.path}`: {why}\n```\n{body}\n```")
    text = "\n\n".join(parts)
    if len(text) > MAX_TEXT:  # keep the end: that is where the error is
        text = "…\n" + text[-(MAX_TEXT - 2) :]
    return text


def _annotations(pipeline: Pipeline, failed: Iterable[_Exec]) -> list[dict[str, Any]]:
    source = Path(pipeline.source_dir)

    def exists(path: str) -> bool:
        cleaned = clean_path(path)
        return bool(pipeline.source_dir) and cleaned is not None and (source / cleaned).is_file()

    found: list[dict[str, Any]] = []
    for e in failed:
        assert e.latest is not None
        found += parse_annotations(tail(Path(e.latest.log_path), ANNOTATION_LINES), exists)
    return found
