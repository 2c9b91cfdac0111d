"""Work ``ci-bot serve`` does on a clock (the cron trigger, retention): a daemon
thread that waits, does one round, and waits again until it is stopped."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)


class Periodic:
    """Subclasses say how long to wait before each round (``delay``) and what a round
    does (``tick``); a round that fails is logged and the next one still comes."""

    name = "periodic"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def delay(self) -> float:
        raise NotImplementedError

    def tick(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"ci-bot-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.delay()):
            try:
                self.tick()
            except Exception:  # a bad round must never end the thread
                logger.exception("%s failed; it runs again next time", self.name)
