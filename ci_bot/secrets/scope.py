"""Which pipelines of its repository a secret reaches: its branches and events (pure).

A scope with no branches allows every branch; with no events, every event.  Both
are checked against the pipeline's ``{branch}`` and ``{event}`` (those of the
filter language), so ``--branch main --event push`` is a push to main, while
``--branch main`` alone also matches a pull request whose head branch is ``main``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def glob_matches(pattern: str, text: str) -> bool:
    """``*`` matches any run of characters (``/`` too), as in conducto.cfg filters."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, text, re.DOTALL) is not None


@dataclass(frozen=True)
class Scope:
    branches: tuple[str, ...] = ()  # globs
    events: tuple[str, ...] = ()

    def allows(self, event: str, branch: str) -> bool:
        branch_ok = not self.branches or any(glob_matches(g, branch) for g in self.branches)
        return branch_ok and (not self.events or event in self.events)

    def describe(self) -> str:
        """``branches main, release/*; events push`` or ``every branch and event``."""
        parts = []
        if self.branches:
            parts.append("branches " + ", ".join(self.branches))
        if self.events:
            parts.append("events " + ", ".join(self.events))
        return "; ".join(parts) or "every branch and event"
