"""One piece of work at a time per key, shared by everyone who asks meanwhile.

Many nodes of a pipeline may need the same image at once; it is pulled (or
built) once: the first caller does the work, the others wait for it and share
its outcome, the same exception included.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class Flights(Generic[K]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[K, _Flight] = {}

    def once(self, key: K, work: Callable[[], None], on_wait: Callable[[], None]) -> None:
        """Run ``work``, or, when it already runs for ``key``, call ``on_wait`` and wait
        for that run; its exception, if any, is raised here too."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            on_wait()
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return
        try:
            work()
        except BaseException as error:
            flight.error = error
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()
