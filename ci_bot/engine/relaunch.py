"""A new pipeline from an old one's own snapshot: the UI's *Rerun* of a pipeline that
did not come from GitHub (``ci-bot run DIR``), which has no branch head to follow.

The new pipeline reads its config from, and runs, the very files the old one had
(uncommitted edits included), under the same event: nodes never write to a
snapshot, so it is still what the old pipeline started from.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from ci_bot.engine.launch import launch
from ci_bot.errors import CiBotError
from ci_bot.executors.base import Executor
from ci_bot.git import Commit, local_snapshot
from ci_bot.settings import Settings
from ci_bot.store.records import Pipeline
from ci_bot.store.store import Store
from ci_bot.tree.select import Event


class SnapshotGone(CiBotError):
    """The old pipeline's files were removed (retention): there is nothing to run again."""


def has_snapshot(pipeline: Pipeline) -> bool:
    """Whether ``pipeline``'s files are still there to run again."""
    kept = pipeline.archived_at is None and bool(pipeline.source_dir)
    return kept and Path(pipeline.source_dir).is_dir()


def relaunch(store: Store, settings: Settings, executor: Executor, pipeline: Pipeline) -> int:
    """Store a new pipeline for ``pipeline``'s event on a copy of its snapshot; its id."""
    old_source = Path(pipeline.source_dir)
    if not has_snapshot(pipeline):
        raise SnapshotGone(
            f"pipeline {pipeline.id}'s files were removed by retention (CI_BOT_RETENTION_DAYS); "
            "run its repository again instead (ci-bot run DIR)"
        )
    source = settings.data_dir / "sources" / uuid.uuid4().hex
    local_snapshot(old_source, source)
    event = Event(
        pipeline.event,
        branch=pipeline.branch,
        base_branch=pipeline.base_branch,
        tag=pipeline.tag,
        sha=pipeline.sha,
        repo=pipeline.repo,
        pr=pipeline.pr,
        author=pipeline.author,
    )
    commit = Commit(pipeline.sha, pipeline.title, pipeline.author) if pipeline.sha else None
    return launch(
        store,
        settings,
        executor,
        source,
        event,
        commit,
        trusted=pipeline.trusted,
        dirty=pipeline.dirty,  # the same uncommitted changes, said again
    )
