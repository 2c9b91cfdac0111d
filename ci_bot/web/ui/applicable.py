"""Which actions apply now, so the pages enable only the buttons that would do
something (pure: the pipeline's JSON in, flags out).  ``static/ci-bot.js`` applies
the same rules to every live update; the API still refuses, with a sentence, what
does not apply (``engine/control.py``), whoever asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FAILED = ("error", "worker_error")
UNFINISHED = ("pending", "queued", "running")


def node_actions(nodes: list[Mapping[str, Any]], path: str) -> dict[str, bool]:
    """Reset: an Exec at or below the node ran or runs.  Skip: one is still pending
    and the node is not skipped already.  Unskip: the node itself is skipped."""
    prefix = path.rstrip("/") + "/"
    execs = [
        n
        for n in nodes
        if n["type"] == "exec" and (n["path"] == path or n["path"].startswith(prefix))
    ]
    node = next(n for n in nodes if n["path"] == path)
    skipped = "skip_reason" in node
    return {
        "reset": any(n["state"] not in ("pending", "skipped") for n in execs),
        "skip": not skipped and any(n["state"] == "pending" for n in execs),
        "unskip": skipped,
    }


def pipeline_actions(pipeline: Mapping[str, Any]) -> dict[str, bool]:
    """Cancel: the pipeline has not finished.  Rerun failed: an Exec failed, or a cancel
    stopped one (``rerun-failed`` picks up where the pipeline was stopped)."""
    states = [n["state"] for n in pipeline["nodes"] if n["type"] == "exec"]
    return {
        "cancel": pipeline["finished_at"] is None,
        "rerun-failed": any(state in (*FAILED, "cancelled") for state in states),
        "next-error": any(state in FAILED for state in states),
    }
