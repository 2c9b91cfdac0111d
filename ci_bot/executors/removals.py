"""Removing ended Exec containers off the path from one node to the next.

A finished node's container is handed to a ``Remover``: its thread removes it while
the engine stores the result and starts the next node (``DELETE`` costs dockerd
tens of milliseconds, more under load, and nothing waits for it).  What a remover
has not removed yet is not lost if the bot stops first: the container is an
ended one of this bot's, labelled with its pipeline and execution, and
``remove_ended`` removes such containers when the pipeline settles, or when an
engine starts and finds them (``Engine.start``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Collection

from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container
from requests import RequestException

from ci_bot.executors.base import LABEL_BOT, LABEL_EXECUTION, LABEL_PIPELINE

logger = logging.getLogger(__name__)

# Docker's states of a container that will not run again by itself: what a sweep removes.
ENDED = ("exited", "dead", "created")
REMOVER_THREADS = 4


class Remover:
    """Background threads removing the containers handed to it: up to ``threads`` at
    once, so that the removals keep up with nodes ending side by side."""

    def __init__(self, threads: int = REMOVER_THREADS) -> None:
        self._queue: queue.Queue[Container] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._threads: list[threading.Thread] = []
        self._most = threads

    def remove_later(self, container: Container) -> None:
        with self._idle:
            self._pending += 1
            if len(self._threads) < min(self._pending, self._most):
                thread = threading.Thread(target=self._work, name="ci-bot-remover", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._queue.put(container)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every container handed over so far is removed (or failed to be);
        False when ``timeout`` seconds passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _work(self) -> None:
        while True:
            container = self._queue.get()
            try:
                remove(container)
            except Exception:  # the thread must outlive any one failure
                logger.exception("removing container %s failed", container.id)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


def remove(container: Container) -> None:
    """Remove ``container``, quietly when another process removes (or removed) it."""
    logger.debug("docker remove %s", container.id)
    try:
        container.remove(force=True)
    except NotFound:
        pass  # another executor following it removed it first
    except (DockerException, RequestException) as exc:
        if not (isinstance(exc, APIError) and exc.status_code == 409):  # removal under way
            logger.warning("could not remove container %s: %s", container.id, exc)


def remove_ended(
    list_containers: Callable[[dict[str, str | list[str] | bool]], list[Container]],
    pipeline_id: str,
    bot_id: str,
    followed: Collection[str] = (),
) -> int:
    """Remove the pipeline's Exec containers that ended (or were never started) and
    whose execution is not in ``followed`` (the ones this executor still follows);
    how many.  Only for a pipeline that settled, or whose engine died: a container
    created for a node about to start would go too."""
    labels = [LABEL_EXECUTION, f"{LABEL_PIPELINE}={pipeline_id}"]
    if bot_id:
        labels.append(f"{LABEL_BOT}={bot_id}")
    removed = 0
    for container in list_containers({"label": labels}):
        if container.status in ENDED and container.labels.get(LABEL_EXECUTION) not in followed:
            remove(container)
            removed += 1
    return removed
