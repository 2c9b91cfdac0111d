"""One ``git fetch`` serves every queued delivery of a repository.

The queue hands a worker all the deliveries waiting for one repository at once
(``ci_bot/queue.py``, a lane per repository).  Before handling them, the worker
opens a ``FetchBatch`` naming the refs they will need (a pull request's
``refs/pull/N/head``); the first delivery's fetch then brings the union of them
all into the mirror, and every later one finds its refs there already.  The
deliveries were all received before that fetch started, so it holds every commit
they name.

A fetch that fails fails only the deliveries it concerns: when the union fails
(one pull request's ref is gone, say), each delivery fetches its own refs; a set
of refs that failed is not tried again for a delivery needing the same or more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ci_bot.git import GitError, Mirrors


@dataclass
class FetchBatch:
    """What one batch fetched (per repository and URL), and which ref sets failed."""

    needs: Mapping[str, frozenset[str]]  # repository -> extra refs its deliveries need
    _done: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    _failed: dict[tuple[str, str], list[tuple[frozenset[str], str]]] = field(default_factory=dict)

    def fetch(self, mirrors: Mirrors, repo: str, url: str, refs: Iterable[str]) -> None:
        key, wanted = (repo, url), frozenset(refs)
        done = self._done.get(key)
        if done is not None and wanted <= done:
            return  # an earlier delivery's fetch brought these refs
        failure = ""
        for attempt in dict.fromkeys((self.needs.get(repo, frozenset()) | wanted, wanted)):
            known = self._failure(key, attempt)
            if known is not None:
                failure = known
                continue
            try:
                mirrors.fetch(repo, url, sorted(attempt))
            except GitError as error:
                failure = str(error)
                self._failed.setdefault(key, []).append((attempt, failure))
                continue
            self._done[key] = (done or frozenset()) | attempt
            return
        raise GitError(failure)

    def _failure(self, key: tuple[str, str], attempt: frozenset[str]) -> str | None:
        """Why a fetch of ``attempt`` must fail: a subset of it failed already."""
        for refs, message in self._failed.get(key, ()):
            if refs <= attempt:
                return message
        return None


def union_of_needs(needs: Iterable[tuple[str, Iterable[str]]]) -> dict[str, frozenset[str]]:
    """(repository, refs) pairs → every repository's refs together."""
    union: dict[str, frozenset[str]] = {}
    for repo, refs in needs:
        union[repo] = union.get(repo, frozenset()) | frozenset(refs)
    return union
