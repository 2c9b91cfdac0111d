"""An executor made when it is first needed.

A command that drives a pipeline makes its engine, and the engine its executor, before
it knows whether any node will start a container: a pipeline whose every node is reused
starts none.  Docker's client (docker-py, requests, urllib3) costs about a fifth of a
second to import, so it is imported on the first call that needs it.  The one question a
reused node asks, its image's id, is answered over the engine's socket without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ci_bot.executors import image_ids
from ci_bot.executors.base import ExecResult, ExecSpec, Executor, RunningContainer


class DeferredExecutor:
    """Every call goes to ``make()``'s executor, made on the first call that needs it."""

    def __init__(self, make: Callable[[], Executor], *, docker_url: str | None = None) -> None:
        self._make = make
        self._made: Executor | None = None
        self._making = threading.Lock()
        url = image_ids.engine_url(docker_url)
        self._socket_url = url if image_ids.socket_of(url) is not None else None

    def resolve(self) -> Executor:
        """The executor itself, made now if it was not yet.  Parallel nodes ask at once:
        one makes it and the others wait, so they share its workspace builds, removals
        and pulls (each making its own built the same workspace image once per node)."""
        if self._made is None:
            with self._making:
                if self._made is None:
                    self._made = self._make()
        return self._made

    def run(self, spec: ExecSpec, on_started: Callable[[str], None] | None = None) -> ExecResult:
        return self.resolve().run(spec, on_started)

    def reattach(self, container_id: str, spec: ExecSpec) -> ExecResult:
        return self.resolve().reattach(container_id, spec)

    def kill(self, execution_id: str, bot_id: str = "") -> None:
        self.resolve().kill(execution_id, bot_id)

    def running(self) -> list[RunningContainer]:
        return self.resolve().running()

    def release_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        self.resolve().release_pipeline(pipeline_id, bot_id)

    def discard_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        self.resolve().discard_pipeline(pipeline_id, bot_id)

    def held_pipelines(self, bot_id: str = "") -> set[str]:
        return self.resolve().held_pipelines(bot_id)

    def image_id(self, image: str) -> str | None:
        if self._made is None and self._socket_url is not None:
            return image_ids.image_id(self._socket_url, image)
        return self.resolve().image_id(image)
