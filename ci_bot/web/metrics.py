"""``GET /metrics``: the Prometheus text of what the bot counted and what it is now.

Counted as it happened, in this process (``ci_bot/metrics.py``, prometheus_client's
default registry, with the process's own CPU and memory): node durations and
waits, reporter errors. Read when scraped (``StateCollector``): pipelines by state,
executions in flight, queue depths, workers, deliveries by outcome. Those come
from the store (so every server says the same) and, scaled out, from the broker.
The route itself, behind a token, is in ``health.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import Flask
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ci_bot import metrics as counted
from ci_bot.services import Services
from ci_bot.store import stats
from ci_bot.store.transactions import utcnow
from ci_bot.tree.states import State

if TYPE_CHECKING:
    from ci_bot.workers.monitor import BrokerMonitor

IN_PROCESS_QUEUE = "jobs"  # webhooks' and Slack's jobs waiting for a thread of serve's
EXTENSION = "ci_bot_metrics"
QUEUE_HELP = (
    f"Work waiting, by queue: {IN_PROCESS_QUEUE} (the jobs of serve's threads: deliveries, "
    "clicks) and, scaled out, each Celery queue of Execs (ci-bot, ci-bot@LABELS)."
)


class StateCollector(Collector):
    """Gauges read from the services at each scrape."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.monitor: BrokerMonitor | None = None
        self.stale = timedelta(0)
        if services.settings.broker_url:
            from ci_bot.workers.monitor import BrokerMonitor
            from ci_bot.workers.tasks import STALE_SECONDS

            self.monitor = BrokerMonitor(services.settings)
            self.stale = timedelta(seconds=STALE_SECONDS)  # a worker this silent is lost

    def collect(self) -> Iterator[Metric]:
        store = self.services.store
        by_state = stats.pipelines_by_state(store)
        yield _gauge("ci_bot_pipelines", "Pipelines stored, by state.", "state", by_state)
        in_flight = stats.executions_by_state(store, (State.QUEUED, State.RUNNING))
        yield _gauge("ci_bot_executions", "Executions queued or running.", "state", in_flight)
        active = GaugeMetricFamily("ci_bot_executions_active", "Executions queued or running.")
        active.add_metric([], sum(in_flight.values()))
        yield active
        deliveries = GaugeMetricFamily(
            "ci_bot_deliveries",
            "Deliveries stored (GitHub, Slack, cron, by hand), by source and status: "
            "received (not handled yet), handled, deferred or failed.",
            labels=["source", "status"],
        )
        for (source, status), count in sorted(stats.deliveries_by_outcome(store).items()):
            deliveries.add_metric([source, status], count)
        yield deliveries
        yield from self._work()

    def _work(self) -> Iterator[Metric]:
        """Queues and workers: this process's, and the broker's when scaled out."""
        depths = {IN_PROCESS_QUEUE: self.services.queue.depth()}
        if self.monitor is None:
            workers = 1 if self.services.engine.is_running else 0  # serve runs Execs itself
        else:
            view = self.monitor.look()
            depths.update(view.queues)
            workers = view.workers
            yield _single("ci_bot_broker_up", "1 when the broker answered this scrape.", view.up)
            yield _single(
                "ci_bot_workers_busy",
                "Workers running an Exec whose heartbeat is recent (from the store).",
                stats.busy_workers(self.services.store, utcnow() - self.stale),
            )
        yield _gauge("ci_bot_queue_depth", QUEUE_HELP, "queue", depths)
        yield _single(
            "ci_bot_workers_alive",
            "Processes able to run Execs: ci-bot workers answering a ping (scaled out), "
            "else 1 while serve's own engine runs.",
            workers,
        )


def _gauge(name: str, help_text: str, label: str, values: Mapping[str, int]) -> Metric:
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _single(name: str, help_text: str, value: float) -> Metric:
    return GaugeMetricFamily(name, help_text, value=float(value))


def metrics_text(app: Flask, services: Services) -> bytes:
    """The scrape: the process-wide counters, then this app's gauges."""
    counted.registered()  # listed (at zero) before the first node or reporter error
    registry: CollectorRegistry | None = app.extensions.get(EXTENSION)
    if registry is None:
        registry = app.extensions[EXTENSION] = CollectorRegistry(auto_describe=False)
        registry.register(StateCollector(services))
    return generate_latest(REGISTRY) + generate_latest(registry)
