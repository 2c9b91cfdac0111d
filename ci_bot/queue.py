"""The job queue between the web side and the work: in-process threads by default.

A webhook handler stores the delivery and submits a job naming it; a worker
thread does the slow part (git, config, launching) outside the request.  Jobs
are durable through the store: a delivery stays ``received`` until its job
finished, and a restarted bot submits those again.

Answering comes first: while the HTTP threads are busy (a burst of deliveries),
the workers wait for slack before each job (``Foreground``), so under a burst GitHub
gets its answers at once and the jobs, durable in the store, run as the burst ebbs
(and coalesce the better for waiting); a stream that never ebbs still leaves them
about half the time.

Jobs may name a *lane* (a repository): the jobs of one lane run one at a time, in
the order they were submitted, while different lanes run in parallel up to the
worker count.  A worker takes every job waiting in a lane at once, so a kind
registered with ``register_batch`` sees them together and can share work among
them (one ``git fetch`` for every queued delivery of a repository).  A job
without a lane is a lane of its own.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ci_bot.sizing import queue_workers

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]
BatchHandler = Callable[[list[dict[str, Any]]], None]


class Foreground:
    """Requests being answered now; background jobs give way while there are many.

    A burst (GitHub redelivering a backlog, a monorepo's many pushes) is answered
    first: while ``saturated_at`` requests or more are in flight, a job waits, up to
    ``LONGEST``.  A stream that does not ebb must not starve the jobs, so once a
    job waited that long, every job runs without giving way for ``TURN`` seconds,
    then gives way again: at worst the jobs get about half the time.
    """

    LONGEST = 5.0  # seconds a job gives way at most before the jobs get a turn
    TURN = 5.0  # seconds the jobs then run without giving way
    POLL = 0.05

    def __init__(
        self,
        saturated_at: int = 2,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._saturated_at = saturated_at
        self._in_flight = 0
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self._turn_until = float("-inf")  # the jobs' turn lasts until then

    @contextmanager
    def request(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def busy(self) -> bool:
        return self._in_flight >= self._saturated_at

    def wait_for_slack(self) -> None:
        """Return once fewer than ``saturated_at`` requests are in flight, at once during
        the jobs' turn, or after ``LONGEST`` (which starts their turn)."""
        now = self._clock()
        if now < self._turn_until:
            return
        deadline = now + self.LONGEST
        while self.busy():
            if self._clock() >= deadline:
                self._turn_until = self._clock() + self.TURN
                return
            self._sleep(self.POLL)


@dataclass(frozen=True)
class Job:
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


class InProcessQueue:
    """Worker threads running registered handlers; a failing job is logged, never fatal."""

    def __init__(self, workers: int | None = None) -> None:
        self._handlers: dict[str, Handler] = {}
        self._batch_handlers: dict[str, BatchHandler] = {}
        self._workers = workers or queue_workers()
        self._threads: list[threading.Thread] = []
        self._changed = threading.Condition()
        self._lanes: dict[Hashable, deque[Job]] = {}  # waiting jobs, per lane
        self._ready: deque[Hashable] = deque()  # lanes with waiting jobs, none being worked
        self._busy: set[Hashable] = set()  # lanes a worker is running now
        self._unfinished = 0  # submitted and not yet run to the end
        self._stopping = False
        self._solo = itertools.count()  # lane keys for jobs without a lane
        self.foreground = Foreground()

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler
        self._batch_handlers.pop(kind, None)

    def register_batch(self, kind: str, handler: BatchHandler) -> None:
        """``handler`` gets the payloads of every queued ``kind`` job of one lane at once,
        oldest first; it must see each of them done (or recorded as failed) itself."""
        self._batch_handlers[kind] = handler
        self._handlers.pop(kind, None)

    def submit(self, kind: str, *, lane: str = "", **payload: Any) -> None:
        if kind not in self._handlers and kind not in self._batch_handlers:
            raise KeyError(f"no handler for job {kind!r}")
        key: Hashable = (kind, lane) if lane else ("", next(self._solo))
        with self._changed:
            waiting = self._lanes.setdefault(key, deque())
            waiting.append(Job(kind, payload))
            self._unfinished += 1
            if len(waiting) == 1 and key not in self._busy:
                self._ready.append(key)
            self._changed.notify()

    def start(self) -> None:
        self._stopping = False
        for number in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"ci-bot-job-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Let the workers run what is queued, then end (waiting at most ``timeout`` for
        each; a delivery left unhandled is in the store, and the next start submits it)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def depth(self) -> int:
        """Jobs submitted and not yet taken by a worker thread (for /metrics)."""
        with self._changed:
            return sum(len(waiting) for waiting in self._lanes.values())

    def join(self) -> None:
        """Wait until every submitted job ran (tests, and a graceful shutdown)."""
        with self._changed:
            self._changed.wait_for(lambda: self._unfinished == 0)

    def run_pending(self) -> None:
        """Run queued jobs in this thread until none is left (for tests without workers)."""
        while True:
            with self._changed:
                if not self._ready:
                    return
                key, jobs = self._take()
            self._run(key, jobs)

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopping or bool(self._ready))
                if not self._ready:  # stopping, and nothing left to take
                    return
            self.foreground.wait_for_slack()  # what arrives meanwhile joins the batch
            with self._changed:
                if not self._ready:  # another worker took it
                    continue
                key, jobs = self._take()
            self._run(key, jobs)

    def _take(self) -> tuple[Hashable, list[Job]]:
        """The next ready lane and all its waiting jobs (the caller holds the condition)."""
        key = self._ready.popleft()
        jobs = list(self._lanes.pop(key))
        self._busy.add(key)
        return key, jobs

    def _run(self, key: Hashable, jobs: list[Job]) -> None:
        try:
            kind = jobs[0].kind
            batch = self._batch_handlers.get(kind)
            if batch is not None:
                self._guarded(kind, batch, [job.payload for job in jobs])
            else:
                for job in jobs:
                    self._guarded(kind, self._handlers[kind], job.payload)
        finally:
            with self._changed:
                self._busy.discard(key)
                self._unfinished -= len(jobs)
                if key in self._lanes:  # more came while this batch ran: its turn again
                    self._ready.append(key)
                self._changed.notify_all()

    @staticmethod
    def _guarded(kind: str, handler: Callable[[Any], None], argument: Any) -> None:
        try:
            handler(argument)
        except Exception:
            logger.exception("job %s failed", kind)
