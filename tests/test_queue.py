"""The in-process job queue: handlers run on worker threads; a failing job is logged."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ci_bot.queue import InProcessQueue


def test_jobs_run_on_workers_and_join_waits_for_them() -> None:
    done: list[int] = []
    lock = threading.Lock()
    jobs = InProcessQueue(workers=2)

    def record(payload: dict[str, Any]) -> None:
        with lock:
            done.append(payload["n"])

    jobs.register("record", record)
    jobs.start()
    for n in range(20):
        jobs.submit("record", n=n)
    jobs.join()
    jobs.stop()
    assert sorted(done) == list(range(20))


def test_a_failing_job_is_logged_and_the_next_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    done: list[str] = []
    jobs = InProcessQueue(workers=1)

    def explode(payload: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    jobs.register("explode", explode)
    jobs.register("ok", lambda payload: done.append("ok"))
    jobs.submit("explode")
    jobs.submit("ok")
    jobs.run_pending()
    assert done == ["ok"]
    assert "job explode failed" in caplog.text


def test_an_unknown_job_kind_is_refused_at_submit() -> None:
    with pytest.raises(KeyError, match="no handler"):
        InProcessQueue().submit("nothing")
