"""``GET /metrics``: each metric family, scraped through the app as Prometheus would
(with a token) and read back with prometheus_client's own parser.

The counters (node durations, reporter errors) are process-wide, as Prometheus
counters are, so tests compare them before and after."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from ci_bot import metrics as ci_metrics
from ci_bot.executors.base import ERROR
from ci_bot.executors.fake import FakeExecutor
from ci_bot.reporting import ReporterHub
from ci_bot.services import Services, open_services
from ci_bot.settings import Settings
from ci_bot.store.records import RunEvent
from ci_bot.web.app import create_app
from tests.pipelines import create_pipeline
from tests.threads import at_once

TOKEN = "metrics-scraper-token-0123"
TWO_EXECS = """
[pipeline.main]
image = "x"
[pipeline.main.build]
run = "make"
[pipeline.main.test]
run = "make test"
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = Settings.from_env({}, data_dir=tmp_path, ui_tokens=(TOKEN,))
    bot = open_services(settings, executor=FakeExecutor())
    yield bot
    bot.store.close()


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return create_app(services).test_client()


def scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_want_a_token(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401


def test_pipelines_by_state_and_executions_in_flight(
    services: Services, client: FlaskClient
) -> None:
    assert scrape(client)["ci_bot_pipelines", (("state", "done"),)] == 0  # every state shown
    waiting = create_pipeline(services.store, TWO_EXECS)
    finished = create_pipeline(services.store, TWO_EXECS)
    services.engine.executor.expect("/build").expect("/test")  # type: ignore[attr-defined]
    services.engine.run_until_settled(finished)
    services.store.queue(waiting, "/build", str(services.settings.data_dir / "logs"))

    samples = scrape(client)
    assert samples["ci_bot_pipelines", (("state", "done"),)] == 1
    assert samples["ci_bot_pipelines", (("state", "queued"),)] == 1
    assert samples["ci_bot_pipelines", (("state", "error"),)] == 0
    assert samples["ci_bot_executions", (("state", "queued"),)] == 1
    assert samples["ci_bot_executions", (("state", "running"),)] == 0
    assert samples["ci_bot_executions_active", ()] == 1


def test_node_durations_and_waits_by_how_each_ended(
    services: Services, client: FlaskClient
) -> None:
    done_before = counted("ci_bot_node_duration_seconds_count", state="done")
    error_before = counted("ci_bot_node_duration_seconds_count", state="error")
    waits_before = counted("ci_bot_node_wait_seconds_count")
    services.engine.executor.expect("/build").expect("/test", ERROR)  # type: ignore[attr-defined]
    services.engine.run_until_settled(create_pipeline(services.store, TWO_EXECS))

    samples = scrape(client)
    assert samples["ci_bot_node_duration_seconds_count", (("state", "done"),)] == done_before + 1
    assert samples["ci_bot_node_duration_seconds_count", (("state", "error"),)] == error_before + 1
    assert samples["ci_bot_node_wait_seconds_count", ()] == waits_before + 2
    every_run = (("le", "+Inf"), ("state", "done"))
    assert samples["ci_bot_node_duration_seconds_bucket", every_run] == done_before + 1


def test_queue_depth_of_serves_jobs_and_its_engine_as_the_one_worker(
    services: Services, client: FlaskClient
) -> None:
    handled: list[int] = []
    services.queue.register("count", lambda payload: handled.append(payload["n"]))
    services.queue.submit("count", n=1)
    services.queue.submit("count", n=2)
    samples = scrape(client)
    assert samples["ci_bot_queue_depth", (("queue", "jobs"),)] == 2
    assert samples["ci_bot_workers_alive", ()] == 0  # nothing runs Execs yet
    assert ("ci_bot_broker_up", ()) not in samples  # not scaled out

    services.queue.run_pending()
    services.engine.start()
    try:
        samples = scrape(client)
    finally:
        services.engine.stop()
    assert handled == [1, 2]
    assert samples["ci_bot_queue_depth", (("queue", "jobs"),)] == 0
    assert samples["ci_bot_workers_alive", ()] == 1


def test_deliveries_by_source_and_outcome(services: Services, client: FlaskClient) -> None:
    store = services.store
    for number, status in enumerate(["handled", "handled", "failed", "deferred", "received"]):
        store.record_delivery(f"d{number}", "github", "push", "{}")
        if status != "received":
            store.finish_delivery(f"d{number}", status, "")
    store.record_delivery("s1", "slack", "block_actions", "{}")
    store.finish_delivery("s1", "handled", "rerun")

    samples = scrape(client)
    github = {
        dict(labels)["status"]: value
        for (name, labels), value in samples.items()
        if name == "ci_bot_deliveries" and dict(labels)["source"] == "github"
    }
    assert github == {"handled": 2, "failed": 1, "deferred": 1, "received": 1}
    assert samples["ci_bot_deliveries", (("source", "slack"), ("status", "handled"))] == 1


class BrokenReporter:
    name = "broken-for-metrics"

    def on_event(self, event: RunEvent) -> None:
        raise RuntimeError("a bug in a reporter")

    def flush(self) -> None:
        pass


def test_reporter_errors_are_counted_per_reporter(services: Services, client: FlaskClient) -> None:
    before = counted("ci_bot_reporter_errors_total", reporter=BrokenReporter.name)
    create_pipeline(services.store, TWO_EXECS)  # a run event for the reporter to choke on
    hub = ReporterHub(services.store, [BrokenReporter()])
    hub.step()
    hub.step()
    after = scrape(client)["ci_bot_reporter_errors_total", (("reporter", BrokenReporter.name),)]
    assert after == before + 2


def test_scaled_out_a_broker_that_is_down_is_a_zero_not_a_failed_scrape(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings.from_env(
        {}, data_dir=tmp_path, ui_tokens=(TOKEN,), broker_url=f"redis://127.0.0.1:{port}/0"
    )
    services = open_services(settings, executor=FakeExecutor())
    store = services.store
    try:
        pipeline_id = create_pipeline(store, TWO_EXECS)
        execution = store.queue(pipeline_id, "/build", str(tmp_path / "logs"))
        store.mark_running(execution.id, "task-1")
        store.claim_execution(execution.id, "w1#abc123", stale_seconds=8)  # and it beats
        samples = scrape(create_app(services).test_client())
    finally:
        store.close()
    assert samples["ci_bot_broker_up", ()] == 0
    assert samples["ci_bot_workers_alive", ()] == 0  # no pong without a broker
    assert samples["ci_bot_workers_busy", ()] == 1  # the store still knows who beats
    assert samples["ci_bot_queue_depth", (("queue", "jobs"),)] == 0
    assert samples["ci_bot_pipelines", (("state", "running"),)] == 1


def test_nodes_ending_at_once_make_the_counters_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counters are made on first use; two threads first at once must not both
    register them (prometheus_client refuses a name registered twice)."""
    made: list[object] = []

    class SlowToMake:
        def __init__(self) -> None:
            time.sleep(0.05)  # the other threads arrive meanwhile
            made.append(self)

    monkeypatch.setattr(ci_metrics, "_made", [])
    monkeypatch.setattr(ci_metrics, "_Metrics", SlowToMake)

    got = at_once(6, ci_metrics.registered)

    assert len(made) == 1
    assert got == made * 6
