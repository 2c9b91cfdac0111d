"""Which channel a pipeline is told in: its event entry's ``slack_channel``, else the default.

The pipeline stores the label of the entry that launched it ("[push] #2 (line 9)")
and its source snapshot, so the entry is found again in the very config that
chose it.  Reading it here, once per pipeline, keeps Slack's concern out of the
launch path that every kind of event shares.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ci_bot.errors import CiBotError
from ci_bot.store.records import Pipeline
from ci_bot.tree.config import parse_config

logger = logging.getLogger(__name__)


def channel_for(pipeline: Pipeline, default: str) -> str:
    """The channel to tell; "" means none (no entry channel and no default)."""
    return entry_channel(pipeline) or default


def entry_channel(pipeline: Pipeline) -> str:
    """The ``slack_channel`` of the entry that launched ``pipeline``, or ""."""
    if not pipeline.source_dir or not pipeline.config_file or not pipeline.entry:
        return ""
    path = Path(pipeline.source_dir) / pipeline.config_file
    try:
        config = parse_config(path.read_text(encoding="utf-8"), file=pipeline.config_file)
    except (OSError, UnicodeDecodeError, CiBotError) as error:
        # The snapshot was removed (archived) or cannot be read: fall back to the default.
        logger.warning("pipeline %s: cannot re-read %s: %s", pipeline.id, path, error)
        return ""
    for entry in config.entries:
        if entry.label == pipeline.entry:
            return entry.slack_channel or ""
    logger.warning("pipeline %s: no entry %s in %s", pipeline.id, pipeline.entry, path)
    return ""
