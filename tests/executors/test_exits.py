"""``ExitEvents``: exit codes from Docker's ``die`` events, and None whenever the
event cannot be known (the caller then asks Docker's ``wait``)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from ci_bot.executors.exits import ExitEvents


class FakeEvents:
    """A client whose event stream yields what the test puts, and breaks on ``None``."""

    def __init__(self) -> None:
        self.pending: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.subscriptions = 0
        self.filters: list[dict[str, Any]] = []

    def __call__(self) -> FakeEvents:  # as the executor's client_of
        return self

    def events(self, filters: dict[str, Any], decode: bool) -> Iterator[dict[str, Any]]:
        self.subscriptions += 1
        self.filters.append(filters)

        def stream() -> Iterator[dict[str, Any]]:
            while (event := self.pending.get()) is not None:
                yield event
            raise ConnectionError("the engine went away")

        return stream()

    def die(self, container_id: str, exit_code: int) -> None:
        attributes = {"exitCode": str(exit_code)}
        self.pending.put({"id": container_id, "Actor": {"Attributes": attributes}})


def test_an_expected_containers_exit_code_comes_from_its_die_event() -> None:
    client = FakeEvents()
    exits = ExitEvents(client)  # type: ignore[arg-type]
    exits.expect("a")
    exits.expect("b")

    client.die("other", 0)  # nobody expects it
    client.die("b", 3)
    client.die("a", 0)

    assert exits.exit_code("a", timeout=30) == 0
    assert exits.exit_code("b", timeout=30) == 3
    assert client.subscriptions == 1
    assert client.filters[0]["event"] == "die"


def test_a_death_not_seen_in_time_or_not_expected_is_not_known() -> None:
    client = FakeEvents()
    exits = ExitEvents(client)  # type: ignore[arg-type]
    exits.expect("a")

    assert exits.exit_code("a", timeout=0.01) is None  # still running, or the event is late
    assert exits.exit_code("never-expected", timeout=30) is None


def test_a_broken_stream_answers_none_at_once_and_the_next_expect_subscribes_again() -> None:
    client = FakeEvents()
    exits = ExitEvents(client)  # type: ignore[arg-type]
    exits.expect("a")
    waiting: list[int | None] = []
    waiter = threading.Thread(target=lambda: waiting.append(exits.exit_code("a", timeout=60)))
    waiter.start()

    client.pending.put(None)  # the stream breaks while "a" runs
    waiter.join(30)

    assert waiting == [None]
    exits.expect("b")
    client.die("b", 0)
    assert exits.exit_code("b", timeout=30) == 0
    assert client.subscriptions == 2


def test_a_stream_that_cannot_open_leaves_it_to_wait() -> None:
    def unreachable() -> Any:
        raise ConnectionError("no engine")

    exits = ExitEvents(unreachable)
    exits.expect("a")

    assert exits.exit_code("a", timeout=30) is None
