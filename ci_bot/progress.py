"""Progress lines of work that is not a state change: pulls, builds, services getting ready.

The executor logs them on the ``ci_bot.progress`` logger (and into the node's
log); a terminal view collects them here, from any thread, and prints them
between its redraws.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

LOGGER = "ci_bot.progress"


class ProgressLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            self._lines.append(record.getMessage())

    def take(self) -> list[str]:
        """The lines since the last call."""
        with self._guard:
            lines, self._lines = self._lines, []
        return lines


@contextmanager
def collecting_progress() -> Iterator[ProgressLines]:
    """Collect progress lines while the block runs (and keep them out of other handlers)."""
    logger = logging.getLogger(LOGGER)
    handler = ProgressLines()
    previous = (logger.level, logger.propagate)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]
