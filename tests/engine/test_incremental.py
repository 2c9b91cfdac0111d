"""The engine's cost per node does not grow with the pipeline, and a change made by
another process wakes it at once (PostgreSQL ``LISTEN``), not on its next poll."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ci_bot.engine.runner import Engine
from ci_bot.executors.fake import FakeExecutor
from ci_bot.settings import Settings
from ci_bot.store.store import Store
from ci_bot.tree.states import State
from tests.pipelines import create_pipeline

IMAGE = '[pipeline.main]\nimage = "alpine"\n'
SETTLE_SECONDS = 60.0  # a failure's bound on a loaded machine, never a measure of speed


def serial(count: int) -> str:
    return IMAGE + "".join(f'[pipeline.main.n{i:03d}]\nrun = "true"\n' for i in range(count))


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for a condition"
        time.sleep(0.01)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path / "data", max_parallel=4)


class Statements:
    """SQL statements the store sends (transaction control left out: it differs by database)."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            self.count += 1


def statements_per_node(store: Store, tmp_path: Path, count: int) -> float:
    pipeline_id = create_pipeline(store, serial(count))
    fake = FakeExecutor()
    for i in range(count):
        fake.expect(f"/n{i:03d}")
    # No polling: the engine ticks only when something happened, as many times per node
    # whatever the timing, so the count is the engine's own.
    engine = Engine(store, fake, settings(tmp_path), poll_seconds=3600)
    statements = Statements(store)
    assert engine.run_until_settled(pipeline_id).state is State.DONE
    fake.assert_all_used()
    return statements.count / count


def test_the_statements_per_node_of_a_serial_do_not_grow_with_its_length(
    store: Store, tmp_path: Path
) -> None:
    short = statements_per_node(store, tmp_path, 10)
    long = statements_per_node(store, tmp_path, 40)
    # Each node: queue, mark running, finish, and a read of one row per tick.  The
    # pipeline's start and end cost a few more, shared by fewer nodes in the short one.
    assert long <= short
    assert long <= 30


def test_a_write_reads_no_other_node_of_the_pipeline(store: Store) -> None:
    """``finish`` applies its own change to the states it knows instead of reading
    every node's state again."""
    pipeline_id = create_pipeline(store, serial(20))
    execution = store.queue(pipeline_id, "/n000", "/tmp")
    statements: list[str] = []
    event.listen(
        store.engine, "before_cursor_execute", lambda _c, _k, text, *_: statements.append(text)
    )
    store.mark_running(execution.id, "c1")
    store.finish(execution.id, State.DONE)
    reads_of_nodes = [s for s in statements if s.lstrip().upper().startswith("SELECT nodes.path")]
    assert reads_of_nodes == []
    assert store.exec_states(pipeline_id)["/n000"] is State.DONE
    assert store.exec_states(pipeline_id)["/n001"] is State.PENDING


def test_what_another_process_writes_is_seen_though_this_one_knew_the_states(
    store: Store, database_url: str
) -> None:
    pipeline_id = create_pipeline(store, serial(2))
    assert store.exec_states(pipeline_id)["/n000"] is State.PENDING  # known here now
    other = Store(database_url)
    try:
        other.set_skip(pipeline_id, "/n000", True, actor="ann")
        execution = other.queue(pipeline_id, "/n001", "/tmp")
    finally:
        other.close()
    snapshot = store.snapshot(pipeline_id)
    assert dict(snapshot.exec_states) == {"/n000": State.SKIPPED, "/n001": State.QUEUED}
    store.finish(execution.id, State.DONE)  # a write here starts from the stored states
    assert store.pipeline(pipeline_id).state is State.DONE


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_reset_or_a_new_pipeline_from_another_process_wakes_the_engine(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    """An engine that would next poll in an hour still runs at once what another
    process (``ci-bot reset``, the web UI of another server) asks for."""
    first = create_pipeline(store, serial(1))
    fake = FakeExecutor().expect("/n000").expect("/n000").expect("/n000")
    engine = Engine(store, fake, settings(tmp_path), poll_seconds=3600)
    engine.start()
    try:
        assert engine.listening(SETTLE_SECONDS)
        wait_for(lambda: store.pipeline(first).finished_at is not None)
        wait_for(lambda: not engine.busy(first))
        other = Store(database_url)
        try:
            other.reset(first, "/n000", actor="ann")
            wait_for(lambda: len(other.executions(first)) == 2)
            wait_for(lambda: other.pipeline(first).finished_at is not None)
            second = create_pipeline(other, serial(1))
            wait_for(lambda: other.pipeline(second).finished_at is not None)
        finally:
            other.close()
    finally:
        engine.stop()
    fake.assert_all_used()
    assert store.pipeline(first).state is State.DONE
    assert store.pipeline(second).state is State.DONE
