"""The job queue between the web side and the work: in-process threads by default.

A webhook handler stores the delivery and submits a job naming it; a worker
thread does the slow part (git, config, launching) outside the request.  Jobs
are durable through the store: a delivery stays ``received`` until its job
finished, and a restarted bot submits those again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Job:
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


class InProcessQueue:
    """Worker threads running registered handlers; a failing job is logged, never fatal."""

    def __init__(self, workers: int = 2) -> None:
        self._handlers: dict[str, Handler] = {}
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._workers = workers
        self._threads: list[threading.Thread] = []

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def submit(self, kind: str, **payload: Any) -> None:
        if kind not in self._handlers:
            raise KeyError(f"no handler for job {kind!r}")
        self._jobs.put(Job(kind, payload))

    def start(self) -> None:
        for number in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"ci-bot-job-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def depth(self) -> int:
        """Jobs submitted and not yet taken by a worker thread (for /metrics)."""
        return self._jobs.qsize()

    def join(self) -> None:
        """Wait until every submitted job ran (tests, and a graceful shutdown)."""
        self._jobs.join()

    def run_pending(self) -> None:
        """Run queued jobs in this thread until none is left (for tests without workers)."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is None:
                self._jobs.task_done()
                continue
            self._run(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                self._jobs.task_done()
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        try:
            self._handlers[job.kind](job.payload)
        except Exception:
            logger.exception("job %s failed", job.kind)
        finally:
            self._jobs.task_done()
