"""``serve``'s logging: lines from many threads, written by one listener, none lost."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from ci_bot.log_setup import log_in_background, stop_quietly


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The root logger's handlers and level as they were, after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_every_line_of_every_thread_is_written_by_the_time_it_stops(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    listener = log_in_background()
    log = logging.getLogger("ci_bot.test")

    def deliveries(thread: int) -> None:
        for number in range(200):
            log.info("delivery %d-%d queued", thread, number)

    threads = [threading.Thread(target=deliveries, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.debug("not at INFO: not written")
    stop_quietly(listener)
    stop_quietly(listener)  # a second stop (at exit) does nothing

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 8 * 200
    assert all(" INFO ci_bot.test: delivery " in line for line in lines)
    assert {line.rsplit(" ", 2)[1] for line in lines} == {
        f"{t}-{n}" for t in range(8) for n in range(200)
    }


def test_a_logged_exception_keeps_its_traceback(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    listener = log_in_background()
    try:
        raise ValueError("the cause")
    except ValueError:
        logging.getLogger("ci_bot.test").exception("the job failed")
    stop_quietly(listener)

    written = capsys.readouterr().err
    assert " ERROR ci_bot.test: the job failed\nTraceback (most recent call last):" in written
    assert written.rstrip().endswith("ValueError: the cause")
