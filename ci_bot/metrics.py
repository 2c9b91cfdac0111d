"""What the bot counts as it works, for ``GET /metrics`` (Prometheus).

Two kinds of numbers. Things that happen are counted here, where they happen, in
this process (prometheus_client's default registry): how long each node ran and
waited, and each failed attempt of a reporter to tell GitHub or Slack. Like any
Prometheus counter they start again from zero when the process does, and with
several ``ci-bot serve`` processes each counts what it did (sum them).

Things that *are* (pipelines by state, queued jobs, live workers, deliveries by
outcome) are read when scraped: ``ci_bot/web/metrics.py``.
"""

from __future__ import annotations

import logging
import threading

from ci_bot.store.records import Execution

logger = logging.getLogger(__name__)

# From a second to a few hours: lint steps to long test suites and builds.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


class _Metrics:
    """The counters, made (and prometheus_client imported) on first use: a command that
    counts nothing, such as a fully reused ``ci-bot run``, never pays for the import."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.node_duration = Histogram(
            "ci_bot_node_duration_seconds",
            "How long an Exec's run took, from its container's start to its end, by how it ended.",
            ["state"],
            buckets=DURATION_BUCKETS,
        )
        self.node_wait = Histogram(
            "ci_bot_node_wait_seconds",
            "How long an Exec waited between being queued and its container starting "
            "(scaled out: the broker and a free worker slot).",
            buckets=DURATION_BUCKETS,
        )
        self.reporter_errors = Counter(
            "ci_bot_reporter_errors",
            "Failed attempts of a reporter to tell GitHub or Slack (each is retried or "
            "logged; none fails a build).",
            ["reporter"],
        )


_made: list[_Metrics] = []
_making = threading.Lock()


def registered() -> _Metrics:
    """The counters, in prometheus_client's default registry (``/metrics`` calls this
    first, so a scrape lists them before anything was counted).  Made once: two
    nodes ending at once must not register the same names twice (the registry
    refuses that)."""
    if not _made:
        with _making:
            if not _made:
                _made.append(_Metrics())
    return _made[0]


def observe_execution(execution: Execution) -> None:
    """Count an execution that ended after running (reused results ran nothing)."""
    if execution.reused_from is not None or execution.started_at is None:
        return
    if execution.ended_at is not None:
        ran = (execution.ended_at - execution.started_at).total_seconds()
        registered().node_duration.labels(state=execution.state.value).observe(max(ran, 0.0))
    waited = (execution.started_at - execution.created_at).total_seconds()
    registered().node_wait.observe(max(waited, 0.0))


def reporter_error(reporter: str) -> None:
    registered().reporter_errors.labels(reporter=reporter).inc()
