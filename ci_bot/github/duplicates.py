"""Duplicate policies (contract §1): what a new pipeline does when one with the same
key — repository + pull request, or repository + event + branch — is still active.

``decide`` is pure; ``active_pipelines`` reads the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci_bot.store.store import Store
from ci_bot.tree.config import Duplicate

KEY_META = "github_key"


@dataclass(frozen=True)
class Decision:
    launch: bool
    cancel: tuple[int, ...] = ()
    defer: bool = False
    reason: str = ""


def pipeline_key(repo: str, event: str, branch: str, pr: int | None) -> str:
    return f"{repo}#pr{pr}" if pr is not None else f"{repo}|{event}|{branch}"


def active_pipelines(store: Store, key: str) -> list[int]:
    """Pipelines with ``key`` that have not finished, oldest first."""
    return store.unfinished_with_meta(KEY_META, key)


def decide(policy: Duplicate, active: list[int]) -> Decision:
    if not active or policy is Duplicate.ALLOW:
        return Decision(launch=True)
    shown = ", ".join(f"#{pipeline_id}" for pipeline_id in active)
    if policy is Duplicate.CANCEL_OLD:
        return Decision(launch=True, cancel=tuple(active), reason=f"cancelled {shown}")
    if policy is Duplicate.DEFER:
        return Decision(launch=False, defer=True, reason=f"waits for {shown} to finish")
    return Decision(launch=False, reason=f"suppressed: {shown} still active")
