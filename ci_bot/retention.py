"""Retention: pipelines finished more than ``CI_BOT_RETENTION_DAYS`` ago are archived.

Archiving removes what takes the disk — the source snapshot, ``$CI_DATA`` and the
logs — and keeps the record: the pipeline, its nodes, executions and run events
stay visible in the UI and the API.  A pipeline still driven by an engine, or not
finished, is never touched.  Saved ``reuse`` results live apart and are kept.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from ci_bot.background import Periodic
from ci_bot.engine.context import pipeline_dir
from ci_bot.engine.launch_facts import facts_dir
from ci_bot.settings import Settings
from ci_bot.store.records import Pipeline
from ci_bot.store.store import Store, utcnow

logger = logging.getLogger(__name__)

CHECK_SECONDS = 3600.0


def archive_old(store: Store, settings: Settings, now: datetime | None = None) -> list[int]:
    """Archive every pipeline past retention; the ids archived."""
    cutoff = (now or utcnow()) - timedelta(days=settings.retention_days)
    archived = []
    for pipeline in store.archivable(finished_before=cutoff):
        _remove_files(settings, pipeline)
        store.mark_archived(pipeline.id)
        archived.append(pipeline.id)
    if archived:
        logger.info("retention: archived %d pipelines finished before %s", len(archived), cutoff)
    return archived


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

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__()
        self.store, self.settings = store, settings
        self._rounds = 0

    def delay(self) -> float:
        self._rounds += 1
        return 0.0 if self._rounds == 1 else CHECK_SECONDS

    def tick(self) -> None:
        archive_old(self.store, self.settings)
