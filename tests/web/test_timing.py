"""A pipeline's run time is the time something of it ran, not the time since it was
made: a reset an hour later adds only what the reset node ran."""

from __future__ import annotations

from datetime import datetime, timedelta

from ci_bot.web.ui.timing import busy_seconds

T0 = datetime(2026, 12, 1, 10, 0, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_overlapping_runs_count_once_and_gaps_not_at_all() -> None:
    runs = [(at(0), at(10)), (at(5), at(12)), (at(3600), at(3603))]  # a reset an hour later
    assert busy_seconds(runs, now=at(4000)) == 15


def test_a_run_still_going_counts_to_now() -> None:
    assert busy_seconds([(at(0), at(4)), (at(2), None)], now=at(9)) == 9


def test_a_run_inside_another_adds_nothing() -> None:
    assert busy_seconds([(at(0), at(10)), (at(2), at(3))], now=at(20)) == 10
