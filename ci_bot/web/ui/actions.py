"""What a person may do from the UI or the API: reset a node (with a new command, for
an Exec), skip or unskip a node; cancel a pipeline or rerun its failed nodes (and,
after a cancel, the cancelled ones: the pipeline picks up where it was stopped).

Each action is written to the store with who asked, and the engine is woken, so
the engine driving the pipeline (here or in another process) honours it within
a tick.  An action that would change nothing says why instead (the reasons are
``engine/control.py``'s, shared with the CLI, GitHub and Slack).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ci_bot.engine.control import (
    cancel_refusal,
    command_refusal,
    rerun_failed,
    skip_refusal,
    unskip_refusal,
)
from ci_bot.services import Services
from ci_bot.web.ui.nodes import find_node

logger = logging.getLogger(__name__)

NODE_ACTIONS = ("reset", "skip", "unskip")
PIPELINE_ACTIONS = ("cancel", "rerun-failed")
ACTIONS = NODE_ACTIONS + PIPELINE_ACTIONS


class ActionRefused(Exception):
    """The action does not apply now; the message says why (answered 409)."""


@dataclass(frozen=True)
class ActionResult:
    action: str
    pipeline_id: int
    path: str
    message: str
    paths: list[str] = field(default_factory=list)


def perform(
    services: Services,
    pipeline_id: int,
    action: str,
    path: str,
    actor: str,
    run: str | None = None,
) -> ActionResult:
    """Do ``action``; raises NotFound (no such pipeline or node) or ActionRefused.
    ``run``: a reset's new command for the Exec (refused with any other action)."""
    services.store.pipeline(pipeline_id)  # NotFound before anything else
    if run is not None and action != "reset":
        raise ActionRefused(f"only a reset takes a new command, not {action}")
    if action == "reset" and run is not None:
        path = find_node(services, pipeline_id, path or "/")[0]
        result = _reset_with_command(services, pipeline_id, path, run, actor)
    elif action in NODE_ACTIONS:
        path = find_node(services, pipeline_id, path or "/")[0]
        result = _node_action(services, pipeline_id, action, path, actor)
    elif action == "cancel":
        _refuse_if(cancel_refusal(services.store, pipeline_id))
        services.store.cancel(pipeline_id, actor=actor)
        result = ActionResult(action, pipeline_id, "/", f"cancelled pipeline {pipeline_id}")
    elif action == "rerun-failed":
        paths = rerun_failed(services.store, pipeline_id, actor, cancelled=True)
        if not paths:
            raise ActionRefused(f"no node of pipeline {pipeline_id} has failed or was cancelled")
        result = ActionResult(action, pipeline_id, "/", f"rerunning {_count(paths)}", paths)
    else:
        raise ActionRefused(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    logger.info("%s: %s %s of pipeline %d", actor, action, result.path, pipeline_id)
    services.engine.wake()
    return result


def _node_action(
    services: Services, pipeline_id: int, action: str, path: str, actor: str
) -> ActionResult:
    store = services.store
    if action == "reset":
        paths = store.reset(pipeline_id, path, actor=actor)
        return ActionResult(
            action, pipeline_id, path, f"reset {path}: {_count(paths)} to run again", paths
        )
    if action == "skip":
        _refuse_if(skip_refusal(store, pipeline_id, path))
        store.set_skip(pipeline_id, path, True, actor=actor)
        return ActionResult(action, pipeline_id, path, f"skipped {path}")
    _refuse_if(unskip_refusal(store, pipeline_id, path))
    store.set_skip(pipeline_id, path, False, actor=actor)
    return ActionResult(action, pipeline_id, path, f"unskipped {path}")


def _reset_with_command(
    services: Services, pipeline_id: int, path: str, run: str, actor: str
) -> ActionResult:
    store = services.store
    _refuse_if(command_refusal(store, pipeline_id, path, run))
    old = store.tree(pipeline_id).find(path)
    paths = store.reset(pipeline_id, path, actor=actor, run=run)
    message = f"reset {path}: {_count(paths)} to run again"
    if old is not None and old.run != run:
        message = f"reset {path} with its new command: {_count(paths)} to run again"
    return ActionResult("reset", pipeline_id, path, message, paths)


def _refuse_if(reason: str | None) -> None:
    if reason is not None:
        raise ActionRefused(reason)


def _count(paths: list[str]) -> str:
    return f"{len(paths)} Exec{'s' if len(paths) != 1 else ''}"
