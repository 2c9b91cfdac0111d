"""``/metrics`` of a scaled-out server, against a real redis-server and a real
``ci-bot worker``: the broker answers, workers are counted by their pongs, and each
Celery queue's waiting tasks (a queue of labels no worker has keeps its task)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from ci_bot.executors.fake import FakeExecutor
from ci_bot.services import open_services
from ci_bot.settings import Settings
from ci_bot.web.app import create_app
from ci_bot.workers.app import DEFAULT_QUEUE, configure, queue_for
from tests.scale.conftest import Workers, wait_until
from tests.web.conftest import TOKEN


@pytest.fixture
def client(tmp_path: Path, scaled_env: dict[str, str]) -> Iterator[FlaskClient]:
    """The app of a scaled-out ``serve`` (no engine started: only what it reports)."""
    settings = Settings.from_env({**scaled_env, "CI_BOT_UI_TOKENS": TOKEN}, data_dir=tmp_path)
    services = open_services(settings, executor=FakeExecutor())
    yield create_app(services).test_client()
    services.store.close()


def scrape(client: FlaskClient) -> dict[str, dict[str, float]]:
    """Each sample by name, then by its labels' values joined (``""``: no labels)."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found.setdefault(sample.name, {})[",".join(sample.labels.values())] = sample.value
    return found


def test_workers_alive_and_celery_queue_depths(
    client: FlaskClient, workers: Workers, scaled_env: dict[str, str]
) -> None:
    app = configure(Settings.from_env(scaled_env))
    before = scrape(client)
    assert before["ci_bot_broker_up"] == {"": 1}
    assert before["ci_bot_workers_alive"] == {"": 0}
    assert before["ci_bot_workers_busy"] == {"": 0}
    assert before["ci_bot_queue_depth"][DEFAULT_QUEUE] == 0

    unserved = queue_for([f"metrics-{uuid.uuid4().hex[:8]}"])  # labels no worker has
    for _ in range(2):
        app.send_task("ci_bot.image_id", args=["nothing"], queue=unserved)
    try:
        workers.start("w1")
        wait_until(lambda: scrape(client)["ci_bot_workers_alive"] == {"": 1}, "w1 answers")
        after = scrape(client)
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(unserved)
    assert after["ci_bot_queue_depth"][unserved] == 2
    assert after["ci_bot_queue_depth"]["jobs"] == 0
