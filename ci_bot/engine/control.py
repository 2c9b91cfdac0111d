"""What people ask of a pipeline, in one place for the CLI, the UI, GitHub and Slack.

Each function writes the wish to the store (with who asked), where whichever
process drives the pipeline honours it within a tick.
"""

from __future__ import annotations

from ci_bot.engine.scheduler import node_states
from ci_bot.engine.trust import REFUSED, privileges_of
from ci_bot.store.records import NodeRecord
from ci_bot.store.store import NotFound, Store
from ci_bot.tree import edit
from ci_bot.tree.states import State


def failed_execs(store: Store, pipeline_id: int, *, cancelled: bool = False) -> list[str]:
    """Paths of the Execs that ended in error or worker_error (and with ``cancelled``,
    those a cancel stopped or kept from running)."""
    failed = (State.ERROR, State.WORKER_ERROR) + ((State.CANCELLED,) if cancelled else ())
    return [node.path for node in store.nodes(pipeline_id) if node.state in failed]


def rerun_failed(
    store: Store, pipeline_id: int, actor: str, *, cancelled: bool = False
) -> list[str]:
    """Reset every failed Exec (and with ``cancelled``, every cancelled one: a cancelled
    pipeline picks up where it was stopped); the pending siblings behind them run
    after.  Returns the paths reset (none: nothing had failed)."""
    paths = failed_execs(store, pipeline_id, cancelled=cancelled)
    for path in paths:
        store.reset(pipeline_id, path, actor=actor)
    return paths


# --- wishes that would change nothing: said so, instead of "done" -----------------------------


def cancel_refusal(store: Store, pipeline_id: int) -> str | None:
    """Why cancelling would change nothing (the pipeline has finished), or None."""
    pipeline = store.pipeline(pipeline_id)
    if pipeline.finished_at is None:
        return None
    state = pipeline.state.value
    return f"pipeline {pipeline_id} has already finished ({state}); nothing to cancel"


def skip_refusal(store: Store, pipeline_id: int, path: str) -> str | None:
    """Why skipping ``path`` would change nothing (nothing below it is still pending), or None."""
    nodes = _nodes(store, pipeline_id, path)
    if nodes[path].skip:
        return f"{path} is already skipped"
    if any(node.state is State.PENDING for node in _below(nodes, path)):
        return None
    state = node_states(store.tree(pipeline_id), store.exec_states(pipeline_id))[path]
    return f"{path} is {state.value}: only a node still pending can be skipped"


def command_refusal(store: Store, pipeline_id: int, path: str, run: str) -> str | None:
    """Why ``path`` cannot be reset with the command ``run`` (it is not an Exec, or
    ``run`` is empty), or None; NotFound when there is no such node."""
    _nodes(store, pipeline_id, path)
    return edit.command_refusal(store.tree(pipeline_id), path, run)


def unskip_refusal(store: Store, pipeline_id: int, path: str) -> str | None:
    """Why unskipping ``path`` would change nothing (it is not skipped itself), or None."""
    nodes = _nodes(store, pipeline_id, path)
    if not privileges_of(store.pipeline(pipeline_id)).gates:
        return REFUSED["gates"]
    if nodes[path].skip:
        return None
    above = [node.path for node in nodes.values() if node.skip and _is_below(path, node.path)]
    if above:
        return f"{path} is not skipped itself; {above[-1]} is: unskip that"
    return f"{path} is not skipped"


def _nodes(store: Store, pipeline_id: int, path: str) -> dict[str, NodeRecord]:
    nodes = {node.path: node for node in store.nodes(pipeline_id)}
    if path not in nodes:
        raise NotFound(f"pipeline {pipeline_id} has no node {path}")
    return nodes


def _below(nodes: dict[str, NodeRecord], path: str) -> list[NodeRecord]:
    return [node for node in nodes.values() if _is_below(node.path, path) or node.path == path]


def _is_below(path: str, ancestor: str) -> bool:
    return path != ancestor and path.startswith(ancestor.rstrip("/") + "/")
