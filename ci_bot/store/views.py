"""A pipeline as one JSON object: the shape of ``run --json``, ``show --json`` and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import Store
from ci_bot.tree.derive import node_states
from ci_bot.tree.nodes import walk


def pipeline_json(store: Store, pipeline_id: int) -> dict[str, Any]:
    pipeline = store.pipeline(pipeline_id)
    tree = store.tree(pipeline_id)
    states = node_states(tree, store.exec_states(pipeline_id))
    by_path: dict[str, list[Execution]] = {}
    for execution in store.executions(pipeline_id):
        by_path.setdefault(execution.path, []).append(execution)
    skips = {node.path: node for node in store.nodes(pipeline_id)}
    nodes = []
    for path, node, _ in walk(tree):
        item: dict[str, Any] = {"path": path, "type": node.type.value, "state": states[path].value}
        if skips[path].skip:
            item["skip_reason"] = skips[path].skip_reason
        if node.is_exec:
            item["message"] = skips[path].message
            item["executions"] = [execution_json(e) for e in by_path.get(path, [])]
        nodes.append(item)
    return {**pipeline_header(pipeline), "entry": pipeline.entry, "nodes": nodes}


def pipeline_header(pipeline: Pipeline) -> dict[str, Any]:
    """What identifies a pipeline; the list in the API shows these too."""
    return {
        "id": pipeline.id,
        "state": pipeline.state.value,
        "repo": pipeline.repo,
        "event": pipeline.event,
        "branch": pipeline.branch,
        "pr": pipeline.pr,
        "tag": pipeline.tag,
        "sha": pipeline.sha,
        "dirty": pipeline.dirty,
        "title": pipeline.title,
        "created_at": iso_time(pipeline.created_at),
        "finished_at": iso_time(pipeline.finished_at),
    }


def execution_json(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "attempt": execution.attempt,
        "state": execution.state.value,
        "exit_code": execution.exit_code,
        "message": execution.message,
        "started_at": iso_time(execution.started_at),
        "ended_at": iso_time(execution.ended_at),
        "reused_from": execution.reused_from,
        "command_change": _command_change(execution),
        "worker": execution.worker,
    }


def _command_change(execution: Execution) -> dict[str, str] | None:
    """Who changed the command this execution ran (``reset --run``), from what to what."""
    change = execution.command_change
    return None if change is None else {"by": change.by, "old": change.old, "new": change.new}


def iso_time(moment: datetime | None) -> str | None:
    """The store's naive UTC times, as ISO 8601 with milliseconds and ``Z``."""
    return moment.isoformat(timespec="milliseconds") + "Z" if moment else None
