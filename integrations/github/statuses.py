"""Commit statuses: what a personal token can report instead of check runs.

A status has four states and a description of at most 140 characters, so a
stage's check run is folded into it: queued and in progress → pending;
success, neutral and skipped → success; failure and timed out → failure;
cancelled → error.
"""

from __future__ import annotations

from typing import Any

from ci_bot.errors import ConfigError
from ci_bot.text import printable
from integrations.github.stages import StageReport

MAX_DESCRIPTION = 140

_STATES = {
    "success": "success",
    "neutral": "success",
    "skipped": "success",
    "failure": "failure",
    "timed_out": "failure",
    "cancelled": "error",
    "action_required": "failure",
}


def status_body(report: StageReport) -> dict[str, Any]:
    state = "pending" if report.status != "completed" else _STATES[report.conclusion or "neutral"]
    return {
        "state": state,
        "target_url": report.details_url,
        "description": short(report.title),
        "context": report.name,
    }


def config_error_status(error: ConfigError, config_file: str) -> dict[str, Any]:
    first = error.problems[0] if error.problems else None
    description = f"line {first.line}: {first.message}" if first else "invalid"
    return {"state": "failure", "description": short(description), "context": config_file}


def short(text: str) -> str:
    """``text`` on one line, within GitHub's 140 characters."""
    flat = " ".join(printable(text, keep="\n\t").split())
    return flat if len(flat) <= MAX_DESCRIPTION else flat[: MAX_DESCRIPTION - 1] + "…"
