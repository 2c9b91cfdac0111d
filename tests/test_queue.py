"""The in-process job queue: handlers run on worker threads; a failing job is logged."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any

import pytest

from ci_bot.queue import Foreground, InProcessQueue


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


def test_a_batch_handler_gets_every_job_waiting_in_a_lane_in_order() -> None:
    batches: list[list[int]] = []
    jobs = InProcessQueue(workers=1)
    jobs.register_batch("delivery", lambda payloads: batches.append([p["n"] for p in payloads]))
    for n in range(5):
        jobs.submit("delivery", lane="acme/app", n=n)
    jobs.submit("delivery", lane="acme/other", n=99)
    jobs.run_pending()
    assert batches == [[0, 1, 2, 3, 4], [99]]
    assert jobs.depth() == 0


def test_jobs_without_a_lane_run_one_by_one_in_order() -> None:
    batches: list[list[int]] = []
    jobs = InProcessQueue(workers=1)
    jobs.register_batch("delivery", lambda payloads: batches.append([p["n"] for p in payloads]))
    for n in range(3):
        jobs.submit("delivery", n=n)
    jobs.run_pending()
    assert batches == [[0], [1], [2]]


def test_two_lanes_run_at_once_and_one_lane_never_does() -> None:
    """Lane A's first job waits until lane B's runs, which it can only see if lanes
    overlap; A's later jobs, queued meanwhile, wait for A's first batch to end."""
    b_started = threading.Event()
    a_holds = threading.Event()
    running = {"A": 0, "B": 0}
    overlaps: list[str] = []
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()
    jobs = InProcessQueue(workers=3)

    def handle(payloads: list[dict[str, Any]]) -> None:
        name = payloads[0]["name"]
        with lock:
            running[name] += 1
            if running[name] > 1:
                overlaps.append(name)
        if name == "B":
            b_started.set()
        elif payloads[0]["n"] == 0:
            a_holds.set()
            assert b_started.wait(60), "lane B did not run while lane A's batch ran"
        with lock:
            seen.extend((name, p["n"]) for p in payloads)
            running[name] -= 1

    jobs.register_batch("work", handle)
    jobs.start()
    jobs.submit("work", lane="repo-a", name="A", n=0)
    assert a_holds.wait(60)
    for n in range(1, 4):
        jobs.submit("work", lane="repo-a", name="A", n=n)  # queued behind A's first
    jobs.submit("work", lane="repo-b", name="B", n=0)
    jobs.join()
    jobs.stop()
    assert overlaps == []
    assert [n for name, n in seen if name == "A"] == [0, 1, 2, 3]
    assert ("B", 0) in seen


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def test_a_job_does_not_wait_while_few_requests_are_in_flight() -> None:
    clock = FakeClock()
    foreground = Foreground(saturated_at=2, clock=clock, sleep=clock.sleep)
    with foreground.request():
        foreground.wait_for_slack()
    assert clock.slept == 0


def test_a_job_gives_way_to_a_burst_until_it_ebbs() -> None:
    clock = FakeClock()
    in_flight: list[AbstractContextManager[None]] = []

    def burst_ends_after_a_second(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 1.0:
            while in_flight:
                in_flight.pop().__exit__(None, None, None)

    foreground = Foreground(saturated_at=2, clock=clock, sleep=burst_ends_after_a_second)
    for _ in range(3):
        request = foreground.request()
        request.__enter__()
        in_flight.append(request)
    foreground.wait_for_slack()
    assert 1.0 <= clock.slept < Foreground.LONGEST
    assert not foreground.busy()


def test_a_stream_that_never_ebbs_gives_the_jobs_turns() -> None:
    clock = FakeClock()
    foreground = Foreground(saturated_at=2, clock=clock, sleep=clock.sleep)
    with foreground.request(), foreground.request():
        foreground.wait_for_slack()  # gives way for LONGEST, which starts the jobs' turn
        assert clock.slept == pytest.approx(Foreground.LONGEST, abs=Foreground.POLL)
        waited = clock.slept
        for _ in range(100):  # every job during the turn runs at once
            foreground.wait_for_slack()
        assert clock.slept == waited
        clock.now += Foreground.TURN  # the turn is over: jobs give way again
        foreground.wait_for_slack()
        assert clock.slept > waited
