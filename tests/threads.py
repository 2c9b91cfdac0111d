"""Calling something from several threads at the same moment (races a lock must stop)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def at_once(count: int, call: Callable[[], T]) -> list[T]:
    """``call()`` in ``count`` threads released together; what each returned."""
    start = threading.Barrier(count)
    got: list[T] = []
    lock = threading.Lock()

    def one() -> None:
        start.wait()
        result = call()
        with lock:
            got.append(result)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got
