"""One ``git cat-file`` and one ``git diff-tree`` read for every queued delivery of a lane.

Launching a delivery reads its commit and config from the mirror (``snapshot``)
and, for a push, the files changed since its ``before``.  A lane's worker knows
up front which commits its deliveries name, so once the lane's fetch is done the
first delivery to read asks git for all of them at once: one ``cat-file --batch``
for every commit and config (and which ``before`` commits the mirror holds), one
``diff-tree --stdin`` for every push's changes.  Later deliveries find theirs
read.  Anything not read ahead (a ref, not a sha; a commit the mirror lacked then)
is read on its own, as without a batch, and says why it failed in the same words.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ci_bot.git import GitError, Mirrors, Snapshot
from ci_bot.history import ZERO_SHA
from ci_bot.tree.changes import ChangeSet

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Want:
    """What one delivery will read: its commit, and a push's ``before``."""

    sha: str
    before: str = ""


@dataclass
class ReadBatch:
    """Snapshots and changes read ahead for a lane's deliveries, per repository."""

    wants: Mapping[str, tuple[Want, ...]]  # repository -> its deliveries' wants, in order
    _snapshots: dict[tuple[str, str], Snapshot] = field(default_factory=dict)
    _changes: dict[tuple[str, str, str], ChangeSet] = field(default_factory=dict)
    _read: set[str] = field(default_factory=set)

    def snapshot(self, mirrors: Mirrors, repo: str, ref: str) -> Snapshot:
        """``mirrors.snapshot(repo, ref)``, read ahead with the lane's others when it can be."""
        if repo not in self._read and any(want.sha == ref for want in self.wants.get(repo, ())):
            self._read.add(repo)  # once: what failed here is read alone, saying why
            try:
                self._read_ahead(mirrors, repo)
            except GitError as error:
                logger.warning("reading ahead for %s failed, reading one by one: %s", repo, error)
        found = self._snapshots.get((repo, ref))
        return found if found is not None else mirrors.snapshot(repo, ref)

    def changes(self, repo: str, before: str, sha: str) -> ChangeSet | None:
        """A push's changes since ``before``, when they were read ahead."""
        return self._changes.get((repo, before, sha))

    def _read_ahead(self, mirrors: Mirrors, repo: str) -> None:
        wants = self.wants[repo]
        befores = [want.before for want in wants if _is_before(want.before)]
        lookups = mirrors.snapshots(repo, [want.sha for want in wants], befores)
        for ref, snapshot in lookups.snapshots.items():
            self._snapshots[(repo, ref)] = snapshot
        pairs = [
            (want.before, lookups.snapshots[want.sha].commit.sha)
            for want in wants
            if want.before in lookups.commits and want.sha in lookups.snapshots
        ]
        found = mirrors.history(repo).changes_between(pairs)
        for (before, sha), changes in found.items():
            self._changes[(repo, before, sha)] = changes


def _is_before(before: str) -> bool:
    """A push's ``before`` that names a commit to measure from (not a new branch's zeros)."""
    return bool(before) and before != ZERO_SHA and not before.startswith("-")


def wants_of(pairs: Iterable[tuple[str, Want]]) -> dict[str, tuple[Want, ...]]:
    """(repository, want) pairs → every repository's wants, in order."""
    found: dict[str, list[Want]] = {}
    for repo, want in pairs:
        found.setdefault(repo, []).append(want)
    return {repo: tuple(wants) for repo, wants in found.items()}
