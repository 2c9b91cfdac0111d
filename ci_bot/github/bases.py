"""Which commit a GitHub event's changes are measured from, and what changed since.

* a pull request: the merge base of its head with its target branch (what GitHub's
  "Files changed" tab shows);
* a push: its ``before``; when that is all zeros or missing (a new branch), the
  merge base with the default branch — but the default branch itself, with no
  ``before``, has nothing to compare with;
* a new branch: the merge base with the default branch;
* a tag: the previous tag, so a release is measured against the last one.

Anything else (cron, deletions) has no base: every file counts as changed.
"""

from __future__ import annotations

from ci_bot.git import GitError
from ci_bot.history import ZERO_SHA, History
from ci_bot.tree.changes import ChangeSet
from ci_bot.tree.select import Event


def changes_since_base(
    history: History, event: Event, before: str, default_branch: str
) -> ChangeSet:
    """What changed in ``event.sha`` (resolved) since its base, or why nothing can say."""
    if event.name == "push" and before and before != ZERO_SHA and not before.startswith("-"):
        try:  # the usual push: one git process, not a lookup and then a diff
            return history.changes(before, event.sha)
        except GitError:
            pass  # `before` is not in the mirror (force-pushed away): as for a new branch
    base, why = _base(history, event, before, default_branch)
    return history.changes(base, event.sha) if base else ChangeSet.unknown(why)


def _base(
    history: History, event: Event, before: str, default_branch: str
) -> tuple[str | None, str]:
    sha = event.sha
    if event.name == "pr":
        found = history.merge_base(sha, f"refs/heads/{event.base_branch}")
        return found, f"{sha[:12]} shares no history with {event.base_branch}"
    if event.name in ("push", "create-branch"):
        if event.branch == default_branch:
            return None, f"{event.branch} is new and is the default branch"
        found = history.merge_base(sha, f"refs/heads/{default_branch}")
        return found, f"{event.branch} shares no history with {default_branch}"
    if event.name == "create-tag":
        return history.previous_tag(sha), f"there is no tag before {event.tag}"
    return None, f"a {event.name} pipeline has no base commit"
