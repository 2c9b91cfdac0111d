"""Deliveries and the notes a launch keeps, on SQLite and PostgreSQL: the webhook's
insert (once per id, the text as given, from many threads at once), a launch's meta
in one write, and the unfinished pipelines of a key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ci_bot.store import delivery_insert
from ci_bot.store.store import NotFound, Store, utcnow
from tests.pipelines import create_pipeline

TREE = '[pipeline.main]\nimage = "alpine"\n[pipeline.main.test]\nrun = "true"\n'


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


def test_a_delivery_is_stored_once_with_its_text_as_given(store: Store) -> None:
    text = '{"zen": "Keep it logically awesome.", "emoji": "\\ud83d\\ude80 ✓"}'
    before = utcnow()
    assert store.record_delivery("abc", "github", "push", text)
    assert not store.record_delivery("abc", "github", "push", "{}")  # a redelivery
    stored = store.delivery("abc")
    assert (stored.payload, stored.status, stored.outcome) == (text, "received", "")
    assert stored.handled_at is None and stored.received_at >= before.replace(microsecond=0)
    assert [d.id for d in store.unhandled_deliveries()] == ["abc"]
    store.finish_delivery("abc", "handled", "done")
    assert store.delivery("abc").status == "handled"


def test_a_lanes_deliveries_are_read_at_once_and_finishing_an_unknown_one_fails(
    store: Store,
) -> None:
    ids = [f"d{number}" for number in range(1203)]  # more than one query's worth
    for delivery_id in ids:
        store.record_delivery(delivery_id, "github", "push", "{}")
    store.finish_delivery("d7", "handled", "pipeline 1 launched")
    found = store.deliveries([*ids, "never-stored"])
    assert sorted(found) == sorted(ids)
    assert (found["d7"].status, found["d7"].outcome) == ("handled", "pipeline 1 launched")
    assert found["d8"] == store.delivery("d8")
    with pytest.raises(NotFound):
        store.finish_delivery("never-stored", "handled", "")


def test_deliveries_inserted_from_many_threads_are_all_stored(store: Store) -> None:
    answers: list[bool] = []
    lock = threading.Lock()

    def insert(thread: int) -> None:
        for number in range(20):
            stored = store.record_delivery(f"t{thread}-{number % 10}", "github", "push", "{}")
            with lock:
                answers.append(stored)

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(True) == 80 and answers.count(False) == 80
    assert len(store.unhandled_deliveries()) == 80


def test_threads_racing_on_the_same_ids_store_each_once(store: Store) -> None:
    """On SQLite concurrent inserts are committed in groups: a duplicate within a
    group is refused alone, and every thread gets its own row's answer."""
    firsts: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def insert() -> None:
        start.wait()
        for number in range(30):
            if store.record_delivery(f"same-{number}", "github", "push", "{}"):
                with lock:
                    firsts.append(f"same-{number}")

    threads = [threading.Thread(target=insert) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(firsts) == sorted(f"same-{number}" for number in range(30))
    assert len(store.unhandled_deliveries()) == 30


def test_a_launchs_meta_is_written_in_one_go_and_read_back(store: Store) -> None:
    pipeline_id = create_pipeline(store, TREE)
    store.set_meta(pipeline_id, "github_key", "old")
    store.set_metas(pipeline_id, {"github_key": "acme/app|push|main", "github_pr": 7})
    assert store.meta(pipeline_id) == {"github_key": "acme/app|push|main", "github_pr": 7}


def test_unfinished_with_meta_leaves_out_finished_pipelines(store: Store) -> None:
    first, second = create_pipeline(store, TREE), create_pipeline(store, TREE)
    for pipeline_id in (first, second):
        store.set_metas(pipeline_id, {"github_key": "acme/app#pr7"})
    assert store.unfinished_with_meta("github_key", "acme/app#pr7") == [first, second]
    store.cancel(first, actor="test")
    assert store.unfinished_with_meta("github_key", "acme/app#pr7") == [second]
    assert store.unfinished_with_meta("github_key", "acme/app#pr8") == []


def test_a_stored_delivery_is_committed_before_record_delivery_returns(
    store: Store, database_url: str
) -> None:
    """What a 202 promises: another connection (another process) sees the row at once."""
    assert store.record_delivery("seen", "github", "push", '{"a": 1}')
    other = Store(database_url)
    try:
        assert other.delivery("seen").payload == '{"a": 1}'
    finally:
        other.close()


def test_sqlite_inserts_go_on_after_the_writer_thread_went_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer thread ends when idle (its connection closed, its WAL checkpointed);
    the next delivery starts another, and both rows are there."""
    monkeypatch.setattr(delivery_insert, "IDLE", 0.01)
    monkeypatch.setattr(delivery_insert, "QUIET", 0.01)
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    try:
        assert store.record_delivery("before", "github", "push", "{}")
        wait_until(lambda: not writer_threads())
        assert store.record_delivery("after", "github", "push", "{}")
        assert not store.record_delivery("before", "github", "push", "{}")
        assert [d.id for d in store.unhandled_deliveries()] == ["before", "after"]
    finally:
        store.close()


def test_a_failed_sqlite_insert_raises_in_its_request_and_the_next_is_stored(
    tmp_path: Path,
) -> None:
    """An insert the database fails (not a duplicate: here a trigger's runtime error)
    raises in the request that waits for it (a 500), and the writer goes on."""
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    try:
        with store.engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON deliveries WHEN NEW.id = 'bad' "
                "BEGIN SELECT json('{ refused'); END"
            )
        with pytest.raises(Exception, match="malformed JSON"):
            store.record_delivery("bad", "github", "push", "{}")
        assert store.record_delivery("good", "github", "push", "{}")
        assert [d.id for d in store.unhandled_deliveries()] == ["good"]
    finally:
        store.close()


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ci-bot-delivery-writer"]


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (a bounded wait for a state, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)
