"""How long a pipeline took, as people mean it.

Its **run time** is the time something of it was running: the union of its
executions' runs, so neither the wait for a free slot nor the ten minutes between a
failure and the reset that fixed it count.  Its **wall time** goes from its
creation to its end.
The pages show the run time, and the wall time beside it where the two differ.
While a pipeline is unfinished both are still counting (no end yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import utcnow
from ci_bot.store.views import iso_time
from ci_bot.tree.durations import format_duration


@dataclass(frozen=True)
class PipelineTimes:
    created_at: datetime
    finished_at: datetime | None
    run_started_at: datetime | None  # None: no execution started yet
    run_ended_at: datetime | None  # None: still counting (or never started)
    # Each execution's run (end None: running now); empty: only the span above is known.
    intervals: tuple[tuple[datetime, datetime | None], ...] = ()

    def run_seconds(self, now: datetime) -> float | None:
        if self.run_started_at is None:
            return None
        if self.intervals:
            return busy_seconds(self.intervals, now)
        return ((self.run_ended_at or now) - self.run_started_at).total_seconds()

    def wall_seconds(self, now: datetime) -> float:
        return ((self.finished_at or now) - self.created_at).total_seconds()

    def json(self, now: datetime | None = None) -> dict[str, Any]:
        """The API's fields: ``duration_seconds`` is the run time (null before any
        execution started), ``wall_seconds`` the wall time."""
        now = now or utcnow()
        return {
            "run_started_at": iso_time(self.run_started_at),
            "run_ended_at": iso_time(self.run_ended_at),
            "duration_seconds": self.run_seconds(now),
            "wall_seconds": self.wall_seconds(now),
        }

    def shown(self, now: datetime | None = None) -> tuple[str, str]:
        """(run time, wall time) as the pages write them; the wall time is "" when it
        reads the same as the run time."""
        now = now or utcnow()
        run_seconds = self.run_seconds(now)
        run = "" if run_seconds is None else format_duration(run_seconds)
        wall = format_duration(self.wall_seconds(now))
        return run, "" if wall == run else wall


def pipeline_times(
    pipeline: Pipeline,
    first_start: datetime | None,
    last_end: datetime | None,
    intervals: Iterable[tuple[datetime, datetime | None]] = (),
) -> PipelineTimes:
    """The times of ``pipeline`` whose executions first started and last ended then
    (and ran in ``intervals``)."""
    finished = pipeline.finished_at is not None
    return PipelineTimes(
        created_at=pipeline.created_at,
        finished_at=pipeline.finished_at,
        run_started_at=first_start,
        run_ended_at=last_end if finished and first_start is not None else None,
        intervals=tuple(intervals),
    )


def times_of(pipeline: Pipeline, executions: list[Execution]) -> PipelineTimes:
    starts = [e.started_at for e in executions if e.started_at is not None]
    ends = [e.ended_at for e in executions if e.ended_at is not None]
    intervals = [(e.started_at, e.ended_at) for e in executions if e.started_at is not None]
    first, last = min(starts, default=None), max(ends, default=None)
    return pipeline_times(pipeline, first, last, intervals)


def busy_seconds(intervals: Iterable[tuple[datetime, datetime | None]], now: datetime) -> float:
    """How long at least one of ``intervals`` was going on (an open one runs to ``now``)."""
    total, covered_until = 0.0, None
    for start, end in sorted((start, end or now) for start, end in intervals):
        if covered_until is not None and start < covered_until:
            start = covered_until  # the overlap was counted already
        if end > start:
            total += (end - start).total_seconds()
            covered_until = end if covered_until is None else max(covered_until, end)
    return total
