"""The reporter hub feeds run events in order, saves each reporter's position, and a
failing reporter neither stops the others nor loses events."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_bot.reporting import ReporterHub
from ci_bot.store.records import RunEvent
from ci_bot.store.store import Store
from tests.pipelines import create_pipeline

TREE = '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n'


class Recorder:
    def __init__(self, name: str, fail_times: int = 0) -> None:
        self.name = name
        self.seen: list[int] = []
        self.flushes = 0
        self.fail_times = fail_times

    def on_event(self, event: RunEvent) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("the service is down")
        self.seen.append(event.id)

    def flush(self) -> None:
        self.flushes += 1


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path}/db.sqlite")


def test_events_arrive_in_order_once_and_survive_a_restart(store: Store) -> None:
    first = create_pipeline(store, TREE)
    recorder = Recorder("recorder")
    ReporterHub(store, [recorder]).step()
    seen_before = list(recorder.seen)
    assert seen_before == sorted(seen_before) and seen_before
    second = create_pipeline(store, TREE)
    restarted = Recorder("recorder")  # a new process: same name, no memory
    ReporterHub(store, [restarted]).step()
    ids = [event.id for event in store.events(second)]
    assert restarted.seen == ids, "only the events after the saved position"
    assert first != second


def test_a_failing_reporter_is_retried_and_does_not_stop_the_others(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    create_pipeline(store, TREE)
    flaky, steady = Recorder("flaky", fail_times=1), Recorder("steady")
    hub = ReporterHub(store, [flaky, steady])
    hub.step()
    assert steady.seen and steady.flushes == 1
    assert "reporter flaky failed" in caplog.text
    hub.step()
    all_ids = [event.id for event in store.events_after(0)]
    assert flaky.seen == all_ids, "nothing was lost to the outage"
