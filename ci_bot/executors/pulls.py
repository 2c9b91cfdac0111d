"""Getting an image onto the engine: pulled by policy, once for concurrent nodes.

``ensure`` is called before a node's container is made. The image is pulled when
the engine lacks it (``pull = "missing"``), before every run (``"always"``) or
never. Registry credentials are the operator's and are used only for trusted
pipelines; an untrusted one (a fork's pull request) that names an image of a
registry we hold credentials for pulls it anonymously every time, so a private
image already on the engine never reaches it through the cache.

A failed pull raises :class:`ImageUnavailable` with the image's name and the
registry's own sentence; a 5xx answer or a timeout is tried once more first.

An image once seen on the engine is remembered, so ``pull = "missing"`` costs a
node no call to the engine after the first; ``forget`` drops it when the engine
turned out not to have it after all (someone removed it).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from docker import DockerClient
from docker.errors import APIError, ImageNotFound
from docker.utils import parse_repository_tag
from requests import RequestException

from ci_bot.executors.flights import Flights
from ci_bot.executors.registry import Credentials, RegistryAuth, registry_host

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

# The registry's (or the network's) passing trouble, worth one more try.
_TRANSIENT = re.compile(
    r"unexpected (?:HTTP )?status:? 5\d\d|\b50[0-9]\b|timeout|timed out|"
    r"connection (?:refused|reset)|EOF|temporarily unavailable",
    re.IGNORECASE,
)
# Per-byte progress is left out of the log; each layer's steps are kept.
_QUIET_STATUSES = ("Downloading", "Extracting", "Waiting", "Verifying Checksum")


class ImageUnavailable(Exception):
    """The image cannot be had; ``str()`` is the sentence for the node's result."""


class ImagePuller:
    def __init__(self, auth: RegistryAuth | None = None, *, retry_pause: float = 1.0) -> None:
        self._auth = auth or RegistryAuth()
        self._retry_pause = retry_pause
        self._flights: Flights[tuple[str, bool]] = Flights()
        self._seen: set[str] = set()  # images seen on the engine (set.add is atomic)

    def ensure(
        self, client: DockerClient, image: str, policy: str, *, trusted: bool, progress: Progress
    ) -> None:
        """Make sure the engine holds ``image`` as ``policy`` wants; ImageUnavailable if not."""
        credentials = self._auth.for_image(image) if trusted else None
        if not trusted and self._auth.has_credentials_for(image):
            # The copy on the engine may have come with the operator's credentials.
            policy = "always"
            progress(f"{image} is on a registry ci-bot holds credentials for; pulled anonymously")
        if policy != "always" and (image in self._seen or _present(client, image)):
            self._seen.add(image)
            return
        if policy == "never":
            raise ImageUnavailable(
                f'image {image} is not on the Docker engine, and pull = "never" forbids pulling it'
            )
        self._pull_once(client, image, credentials, progress)
        self._seen.add(image)

    def forget(self, image: str) -> None:
        """The engine lacks ``image`` after all: the next ``ensure`` looks (and pulls) again."""
        self._seen.discard(image)

    def _pull_once(
        self, client: DockerClient, image: str, credentials: Credentials | None, progress: Progress
    ) -> None:
        self._flights.once(
            (image, credentials is not None),
            lambda: self._pull_with_retry(client, image, credentials, progress),
            lambda: progress(f"waiting for the pull of {image} another node started"),
        )

    def _pull_with_retry(
        self, client: DockerClient, image: str, credentials: Credentials | None, progress: Progress
    ) -> None:
        host = registry_host(image)
        how = "with the operator's credentials" if credentials else "anonymously"
        progress(f"pulling {image} from {host} {how}")
        started = time.monotonic()
        try:
            _pull(client, image, credentials, progress)
        except _PullFailed as failure:
            if not _TRANSIENT.search(failure.reason):
                raise ImageUnavailable(_sentence(image, failure.reason)) from None
            progress(f"pulling {image} failed ({failure.reason}); trying once more")
            time.sleep(self._retry_pause)
            try:
                _pull(client, image, credentials, progress)
            except _PullFailed as again:
                raise ImageUnavailable(_sentence(image, again.reason)) from None
        progress(f"pulled {image} in {time.monotonic() - started:.1f}s")


class _PullFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _pull(
    client: DockerClient, image: str, credentials: Credentials | None, progress: Progress
) -> None:
    repository, tag = parse_repository_tag(image)
    logger.info("docker pull %s", image)
    auth = credentials.auth_config() if credentials else None
    try:
        events = client.api.pull(
            repository, tag=tag or "latest", stream=True, decode=True, auth_config=auth
        )
        for line in _progress_lines(events):
            progress(line)
    except APIError as error:
        raise _PullFailed(str(error.explanation or error)) from None
    except RequestException as error:  # the stream broke off: a timeout, a dropped connection
        raise _PullFailed(f"timeout or broken connection: {error}") from None
    if not _present(client, image):
        raise _PullFailed("the engine reported no error, but does not hold the image afterwards")


def _progress_lines(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The lines worth a person's reading; raises _PullFailed on an error event."""
    for event in events:
        if "error" in event:
            raise _PullFailed(str(event["error"]).strip())
        status = str(event.get("status", "")).strip()
        if not status or status.startswith(_QUIET_STATUSES):
            continue
        layer = event.get("id")
        yield f"{layer}: {status}" if layer else status


def _present(client: DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except ImageNotFound:
        return False
    return True


def _sentence(image: str, reason: str) -> str:
    return f"cannot pull image {image}: {reason}"
