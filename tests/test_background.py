"""Periodic work keeps going after a failed round and ends when stopped."""

from __future__ import annotations

import threading

import pytest

from ci_bot.background import Periodic


class Counter(Periodic):
    name = "counter"

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0
        self.third = threading.Event()

    def delay(self) -> float:
        return 0.001

    def tick(self) -> None:
        self.rounds += 1
        if self.rounds == 3:
            self.third.set()
        if self.rounds == 1:
            raise RuntimeError("a bad round")


def test_a_failed_round_is_logged_and_the_next_still_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Counter()
    worker.start()
    assert worker.third.wait(10)
    worker.stop()
    assert "counter failed; it runs again next time" in caplog.text
    assert worker._thread is not None and not worker._thread.is_alive(), "stop ends it"
