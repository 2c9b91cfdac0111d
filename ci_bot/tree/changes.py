"""What changed since a pipeline's base: the facts behind ``changed("GLOB")``.

A pipeline's base is the commit its changes are measured from (a pull request's
merge base with its target branch, a push's ``before``…; ``ci_bot/history.py``
finds it).  When there is none — a new repository, a cron run, ``ci-bot run``
without ``--base`` — nothing can be left out, so every file counts as changed.
A change to one of the entry's ``changes_everything`` paths (by default the
config file and a generator's script) counts as every file changed too: a new
tree must run in full once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from ci_bot.tree.paths import covers

SHOWN = 3  # changed files named in an explanation; the rest are counted


@dataclass(frozen=True)
class ChangeSet:
    """The files changed between ``base_sha`` and the commit, or None: no base known."""

    base_sha: str = ""
    files: tuple[str, ...] | None = None
    no_base: str = "no base commit to compare with"  # why files is None
    everything: str = ""  # why every file counts as changed even though files is known

    @classmethod
    def of(cls, base_sha: str, files: Iterable[str]) -> ChangeSet:
        return cls(base_sha=base_sha, files=tuple(sorted(set(files))))

    @classmethod
    def unknown(cls, why: str) -> ChangeSet:
        return cls(no_base=why)

    @property
    def all_changed(self) -> bool:
        return self.files is None or bool(self.everything)

    def considering(self, global_patterns: Iterable[str]) -> ChangeSet:
        """This change set, where touching any of ``global_patterns`` changes everything."""
        if self.files is None or self.everything:
            return self
        for pattern in global_patterns:
            hit = next((path for path in self.files if covers(pattern, path)), None)
            if hit is not None:
                return replace(self, everything=f"{hit} changed, which changes everything")
        return self

    def touches(self, pattern: str) -> bool:
        """Whether a changed file matches ``pattern`` (always, when all count as changed)."""
        if self.files is None or self.everything:
            return True
        return any(covers(pattern, path) for path in self.files)

    def explain(self, pattern: str) -> str:
        """Why ``touches(pattern)`` is what it is, naming files."""
        if self.files is None:
            return f"{self.no_base}, so every file counts as changed"
        if self.everything:
            return self.everything
        since = f"since {self.base_sha[:12]}" if self.base_sha else "since the base"
        hits = [path for path in self.files if covers(pattern, path)]
        if hits:
            return f"{_listed(hits)} changed {since}"
        if not self.files:
            return f"no file changed {since}"
        return f"no file changed {since} is under {pattern} (changed: {_listed(self.files)})"


def _listed(paths: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(paths[:SHOWN])
    more = len(paths) - SHOWN
    return f"{shown} and {more} more" if more > 0 else shown
