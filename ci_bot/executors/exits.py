"""Exit codes as Docker announces them, before ``wait`` would give them.

Docker emits a container's ``die`` event (with its exit code) as soon as its process
ended, then unmounts its filesystem and takes down its network, and only then does
``POST /containers/{id}/wait`` return: on the default bridge about 60 ms later.  A
node's result needs nothing of that cleanup, so ``ExitEvents`` follows Docker's
event stream (one connection per executor, only ``die`` events of Exec
containers) and hands each expected container's exit code over when it comes.

Whenever it cannot be sure to have seen the event (the stream was not open
before the container started, or broke meanwhile, or the event is late), it
answers None and the caller asks ``wait``, as it always did.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from docker import DockerClient

from ci_bot.executors.base import LABEL_EXECUTION

logger = logging.getLogger(__name__)

SUBSCRIBE_SECONDS = 5.0  # how long a first container waits for the stream to open


@dataclass
class _Expected:
    seen: threading.Event = field(default_factory=threading.Event)
    exit_code: int | None = None  # None once seen: the stream broke, ask ``wait``


class ExitEvents:
    """The ``die`` events of the containers someone ``expect``s, from one stream."""

    def __init__(self, client_of: Callable[[], DockerClient]) -> None:
        self._client_of = client_of
        self._changed = threading.Condition()  # guards what follows; notified on open, break
        self._expected: dict[str, _Expected] = {}
        self._open = False  # the stream is subscribed and read
        self._thread: threading.Thread | None = None

    def expect(self, container_id: str) -> None:
        """Watch for ``container_id``'s death; call it before the container starts."""
        expected = _Expected()
        with self._changed:
            self._expected[container_id] = expected
            if self._thread is None:  # none yet, or the last one's stream broke
                self._thread = threading.Thread(
                    target=self._listen, name="ci-bot-exits", daemon=True
                )
                self._thread.start()
            opened = self._changed.wait_for(
                lambda: self._open or expected.seen.is_set(), SUBSCRIBE_SECONDS
            )
            if not opened:  # its death might come before the subscription: ``wait`` it is
                self._expected.pop(container_id, None)
                expected.seen.set()

    def exit_code(self, container_id: str, timeout: float) -> int | None:
        """The exit code of an expected container that died (or dies within
        ``timeout`` seconds); None when that is not known here."""
        with self._changed:
            expected = self._expected.get(container_id)
        if expected is None:
            return None
        expected.seen.wait(timeout)
        self.forget(container_id)
        return expected.exit_code

    def forget(self, container_id: str) -> None:
        with self._changed:
            self._expected.pop(container_id, None)

    def _listen(self) -> None:
        try:
            filters = {"type": "container", "event": "die", "label": LABEL_EXECUTION}
            # The request is answered once the engine subscribed it: from here on no
            # death is missed.
            stream = self._client_of().events(filters=filters, decode=True)
            with self._changed:
                self._open = True
                self._changed.notify_all()
            for event in stream:
                self._seen(event)
        except Exception as exc:  # a closed client, a restarted engine: ``wait`` answers
            logger.debug("docker events stream ended: %s", exc)
        finally:
            with self._changed:
                self._thread = None
                self._open = False
                for expected in self._expected.values():
                    expected.seen.set()  # exit_code None: not known here
                self._expected.clear()
                self._changed.notify_all()

    def _seen(self, event: dict[str, Any]) -> None:
        with self._changed:
            expected = self._expected.get(str(event.get("id", "")))
        if expected is None:
            return
        code = event.get("Actor", {}).get("Attributes", {}).get("exitCode")
        try:
            expected.exit_code = int(code)
        except (TypeError, ValueError):
            expected.exit_code = None
        expected.seen.set()
