"""What a pipeline was launched with besides its files, kept beside its source snapshot.

At launch, ``<source>.facts/`` records what the commit's history says, while the
mirror is at hand: what changed since the base (``CI_BASE_SHA`` and the list
behind ``$CI_CHANGED_FILES``), the promise of a ``.git`` for each ``git_depth``
the Execs use (``workspace_git``: written when a workspace is first built, so a
pipeline that never starts a container never pays for it), and for a tag the
commits since the previous one (its release notes).  Nodes get them through
``build_spec``: the env, and files added to the workspace image
(``/workspace/.git``, ``/ci/changed-files``) — once per pipeline and image, so
every node starts from the same pristine copy at no cost per node.  Retention
removes the directory with the snapshot.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_bot import workspace_git
from ci_bot.git import Commit
from ci_bot.history import History
from ci_bot.tree.changes import ChangeSet
from ci_bot.tree.nodes import Node, walk
from ci_bot.tree.select import Event

logger = logging.getLogger(__name__)

SUFFIX = ".facts"
CHANGED_FILES = "/ci/changed-files"  # $CI_CHANGED_FILES inside every container
GIT_DIR = "/workspace/.git"
_CHANGES, _LIST, _RELEASE = "changes.json", "changed-files", "release.json"


@dataclass(frozen=True)
class ReleaseHistory:
    """What a tag's release notes are written from."""

    tag: str
    previous_tag: str | None
    commits: tuple[Commit, ...]


def facts_dir(source: Path) -> Path:
    return source.with_name(source.name + SUFFIX)


def source_files(source: Path) -> list[str]:
    """Every file (and link) of the snapshot, relative to its root, sorted."""
    found = []
    for directory, _, names in os.walk(source):
        relative = Path(directory).relative_to(source)
        found += [(relative / name).as_posix() for name in names]
    return sorted(found)


# --- at launch ------------------------------------------------------------------------------


def record_changes(source: Path, changes: ChangeSet, files: Iterable[str]) -> None:
    """Write the change set; without a base, every file of the commit is listed."""
    facts = facts_dir(source)
    facts.mkdir(exist_ok=True)
    document = {
        "base_sha": changes.base_sha,
        "files": None if changes.files is None else list(changes.files),
        "no_base": changes.no_base,
        "everything": changes.everything,
    }
    (facts / _CHANGES).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    listed = files if changes.files is None else changes.files
    (facts / _LIST).write_text("".join(f"{path}\n" for path in listed), encoding="utf-8")


def record_history(
    source: Path, history: History | None, event: Event, depths: Iterable[int]
) -> None:
    """Promise a ``.git`` for each depth (written when a workspace needs it), and write a
    tag's release history."""
    if history is None or not event.sha:
        return  # a directory that is no repository: its nodes get no .git
    facts = facts_dir(source)
    facts.mkdir(exist_ok=True)
    for depth in sorted(set(depths)):
        workspace_git.promise(
            facts / f"git-{depth}", history, event.sha, depth, branch=event.branch, tag=event.tag
        )
    if event.tag and not (facts / _RELEASE).exists():
        _record_release(facts, history, event)


def _record_release(facts: Path, history: History, event: Event) -> None:
    previous = history.previous_tag(event.sha)
    commits = history.commits(previous, event.sha)
    document = {
        "tag": event.tag,
        "previous_tag": previous,
        "commits": [{"sha": c.sha, "title": c.title, "author": c.author} for c in commits],
    }
    (facts / _RELEASE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def exec_depths(tree: Node) -> set[int]:
    """The ``git_depth`` of every Exec of ``tree``."""
    return {int(resolved.git_depth) for _, node, resolved in walk(tree) if node.is_exec}


# --- when a node runs ---------------------------------------------------------------------------


def change_env(source_dir: Path) -> dict[str, str]:
    """``CI_BASE_SHA`` and ``CI_CHANGED_FILES`` for a node ({} for a pipeline without facts)."""
    changes = _read_json(_facts_of(source_dir) / _CHANGES)
    if changes is None:
        return {}
    return {"CI_BASE_SHA": str(changes.get("base_sha") or ""), "CI_CHANGED_FILES": CHANGED_FILES}


def workspace_extras(source_dir: Path, depth: int) -> tuple[tuple[Path, str], ...]:
    """(file on the bot's machine, path in the container) to add to the workspace image;
    the ``.git`` may be only promised yet: whoever builds the image calls
    ``workspace_git.provide`` on these paths first."""
    facts = _facts_of(source_dir)
    extras = []
    if workspace_git.promised(facts / f"git-{depth}"):
        extras.append((facts / f"git-{depth}", GIT_DIR))
    if (facts / _LIST).is_file():
        extras.append((facts / _LIST, CHANGED_FILES))
    return tuple(extras)


def release_history(source_dir: Path) -> ReleaseHistory | None:
    document = _read_json(_facts_of(source_dir) / _RELEASE)
    if document is None:
        return None
    commits = tuple(
        Commit(sha=str(c["sha"]), message=str(c["title"]), author=str(c["author"]))
        for c in document.get("commits", [])
    )
    previous = document.get("previous_tag")
    return ReleaseHistory(str(document["tag"]), str(previous) if previous else None, commits)


def _facts_of(source_dir: Path) -> Path:
    """The facts of a pipeline's snapshot; a pipeline without one (its source_dir is "")
    has none: the path given cannot exist."""
    return facts_dir(source_dir) if source_dir.name else source_dir / SUFFIX / "none"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("cannot read %s: %s", path, error)
        return None
    return document if isinstance(document, dict) else None
