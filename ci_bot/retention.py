"""Retention: pipelines finished more than ``CI_BOT_RETENTION_DAYS`` ago are archived.

Archiving removes what takes the disk — the source snapshot, ``$CI_DATA`` and the
logs — and keeps the record: the pipeline, its nodes, executions and run events
stay visible in the UI and the API.  A pipeline still driven by an engine, or not
finished, is never touched.  Saved ``reuse`` results live apart and are kept.

Its workspace images (kept after it settled, so a reset and ``resume`` start at
once) go too: every run sweeps the images the executor holds for the bot's
pipelines that are archived or no longer in the store.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ci_bot.background import Periodic
from ci_bot.engine.context import pipeline_dir
from ci_bot.engine.launch_facts import facts_dir
from ci_bot.errors import CiBotError
from ci_bot.settings import Settings
from ci_bot.store.records import Pipeline
from ci_bot.store.store import NotFound, Store, utcnow

if TYPE_CHECKING:
    from ci_bot.executors.base import Executor

logger = logging.getLogger(__name__)

CHECK_SECONDS = 3600.0


def archive_old(
    store: Store,
    settings: Settings,
    now: datetime | None = None,
    executor: Executor | None = None,
) -> list[int]:
    """Archive every pipeline past retention; the ids archived.  With ``executor``, the
    workspace images of archived (and deleted) pipelines are removed too."""
    cutoff = (now or utcnow()) - timedelta(days=settings.retention_days)
    archived = []
    for pipeline in store.archivable(finished_before=cutoff):
        _remove_files(settings, pipeline)
        store.mark_archived(pipeline.id)
        archived.append(pipeline.id)
    if archived:
        logger.info("retention: archived %d pipelines finished before %s", len(archived), cutoff)
    if executor is not None:
        sweep_workspaces(store, executor)
    return archived


def sweep_workspaces(store: Store, executor: Executor) -> list[str]:
    """Discard what the executor holds for the bot's pipelines that are archived or gone
    from the store; the pipeline ids discarded.  A failure is logged: the next sweep
    tries again."""
    bot_id = store.instance_id()  # only this bot's: others may share the engine
    try:
        held = executor.held_pipelines(bot_id)
    except CiBotError as error:
        logger.warning("retention: cannot list the workspace images: %s", error)
        return []
    discarded = []
    for pipeline_id in sorted(held):
        if not pipeline_id.isdigit():
            continue  # a one-off run's (a generated tree's): its launcher drops it
        try:
            if store.pipeline(int(pipeline_id)).archived_at is None:
                continue
        except NotFound:
            pass  # deleted: nothing will reset it again
        try:
            executor.discard_pipeline(pipeline_id, bot_id)
            discarded.append(pipeline_id)
        except CiBotError as error:
            logger.warning("retention: pipeline %s's images stay for now: %s", pipeline_id, error)
    return discarded


def _remove_files(settings: Settings, pipeline: Pipeline) -> None:
    paths = [pipeline_dir(settings, pipeline.id)]
    if pipeline.source_dir:
        paths += [Path(pipeline.source_dir), facts_dir(Path(pipeline.source_dir))]
    data_dir = settings.data_dir.resolve()
    for path in paths:
        if path.resolve().is_relative_to(data_dir):  # only what lies in the data dir is ours
            shutil.rmtree(path, ignore_errors=True)


class RetentionWorker(Periodic):
    """Runs ``archive_old`` at start-up and then every hour (``ci-bot serve``)."""

    name = "retention"

    def __init__(
        self,
        store: Store,
        settings: Settings,
        executor: Callable[[], Executor] | None = None,
    ) -> None:
        super().__init__()
        self.store, self.settings, self.executor = store, settings, executor
        self._rounds = 0

    def delay(self) -> float:
        self._rounds += 1
        return 0.0 if self._rounds == 1 else CHECK_SECONDS

    def tick(self) -> None:
        executor = self.executor() if self.executor is not None else None
        archive_old(self.store, self.settings, executor=executor)
