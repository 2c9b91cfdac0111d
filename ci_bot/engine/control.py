"""What people ask of a pipeline, in one place for the CLI, the UI, GitHub and Slack.

Each function writes the wish to the store (with who asked), where whichever
process drives the pipeline honours it within a tick.
"""

from __future__ import annotations

from ci_bot.store.store import Store
from ci_bot.tree.states import State


def failed_execs(store: Store, pipeline_id: int) -> list[str]:
    """Paths of the Execs that ended in error or worker_error."""
    return [
        node.path
        for node in store.nodes(pipeline_id)
        if node.state in (State.ERROR, State.WORKER_ERROR)
    ]


def rerun_failed(store: Store, pipeline_id: int, actor: str) -> list[str]:
    """Reset every failed Exec; the pending siblings behind them run after.  Returns
    the paths reset (none: nothing had failed)."""
    paths = failed_execs(store, pipeline_id)
    for path in paths:
        store.reset(pipeline_id, path, actor=actor)
    return paths
