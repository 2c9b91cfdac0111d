"""Wrong sign-in tokens, counted per client address, and a pause after too many.

A token is 256 random bits, so guessing one is hopeless, but a leaked, shortened
or typed-from-memory one is not, and thousands of tries a second should be
neither free nor silent.  Each address gets ``limit`` wrong tokens per
``window`` seconds; past that, every token from it is refused (429 with
``Retry-After``) until the window ends, the right one too, or the pause would
tell a guesser when they were right.  Each wrong token before the pause is
logged, the pause once per address and window, never the token.

Counted: bearer tokens and the sign-in form.  Not counted: session cookies (256
random bits, looked up by hash; a stale one after a session expired is a
person, not a guess).  The clock is a parameter, so tests move time themselves.
Behind a reverse proxy every client has the proxy's address: let the proxy
pass the client's (``waitress --trusted-proxy``) or they share one budget.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

LIMIT = 10
WINDOW_SECONDS = 300.0
MAX_ADDRESSES = 10_000  # a spray from many addresses must not grow this without bound


@dataclass
class _Window:
    started: float
    failures: int = 0
    refused: int = 0  # attempts refused during the pause


class FailureThrottle:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now.  A paused
        address's attempt is counted as refused."""
        with self._lock:
            window = self._current(address)
            if window is None or window.failures < self.limit:
                return None
            window.refused += 1
            return max(1, math.ceil(window.started + self.window - self._clock()))

    def failed(self, address: str, what: str) -> None:
        """``address`` sent a wrong token (``what``: "bearer token", "sign-in form")."""
        with self._lock:
            window = self._current(address)
            if window is None:
                self._forget_old()
                window = self._windows[address] = _Window(self._clock())
            window.failures += 1
            failures = window.failures
        if failures < self.limit:
            logger.warning("wrong %s from %s (%d of %d)", what, address, failures, self.limit)
        elif failures == self.limit:
            logger.warning(
                "wrong %s from %s: %d wrong tokens in %.0fs; refusing its tokens until the "
                "window ends",
                *(what, address, failures, self.window),
            )

    def _current(self, address: str) -> _Window | None:
        window = self._windows.get(address)
        if window is not None and self._clock() - window.started >= self.window:
            if window.refused:
                logger.warning(
                    "%s: %d more attempts were refused while paused", address, window.refused
                )
            del self._windows[address]
            return None
        return window

    def _forget_old(self) -> None:
        if len(self._windows) < MAX_ADDRESSES:
            return
        now = self._clock()
        for address in [a for a, w in self._windows.items() if now - w.started >= self.window]:
            del self._windows[address]
        while len(self._windows) >= MAX_ADDRESSES:  # still full: the oldest goes
            del self._windows[next(iter(self._windows))]
