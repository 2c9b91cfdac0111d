"""Following one container: ``Watch`` kills it (cancel, deadline) and remembers why;
``OutputFollower`` copies its output into the log exactly once.

Docker's follow stream can end before the last partial line (output without a
final newline) is delivered, and a restarted engine has to pick a container up
where its log ends. Both are solved the same way: the output is read with
``timestamps=True`` (nanoseconds, one frame per log message) and a later read
asks for messages since the last one written and drops those already seen.
Each line in the log is stamped with the time Docker received it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from docker.errors import DockerException
from docker.models.containers import Container
from requests import RequestException

from ci_bot.executors.logs import NOTE_PREFIX, LogWriter, parse_timestamp, tail

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STAMP_LENGTH = len("2006-01-02T15:04:05.000000000Z")


class Watch:
    """One container being followed, and why it may have been killed."""

    def __init__(self, container: Container, cancelled: bool) -> None:
        self.container = container
        self.cancelled = cancelled
        self.timed_out = False
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
        self._kill()

    def kill_if_cancelled(self) -> None:
        with self._lock:
            cancelled = self.cancelled
        if cancelled:
            self._kill()

    def expire(self) -> None:
        with self._lock:
            self.timed_out = not self.cancelled
        self._kill()

    def _kill(self) -> None:
        logger.debug("docker kill %s", self.container.id)
        try:
            self.container.kill()
        except (DockerException, RequestException) as exc:  # not running (yet/any more)
            logger.debug("docker kill %s: %s", self.container.id, exc)


class OutputFollower:
    """Streams one container's output into ``log``; ``floor_ns``: skip messages up to it."""

    def __init__(self, container: Container, log: LogWriter, floor_ns: int | None = None) -> None:
        self._container = container
        self._log = log
        self._floor_ns = floor_ns
        self._last_ns = floor_ns

    def follow(self) -> None:
        """Copy the output as it comes, until the container stops."""
        self._copy(follow=True)

    def catch_up(self) -> None:
        """After the container stopped: copy what the follow stream did not deliver."""
        self._floor_ns = self._last_ns
        self._copy(follow=False)

    def _copy(self, *, follow: bool) -> None:
        # Within one read, order is Docker's (stdout and stderr may interleave slightly
        # out of timestamp order), so only the floor from before the read filters.
        since = (self._floor_ns - 1_000_000) / 1e9 if self._floor_ns else None
        logger.debug("docker logs %s follow=%s since=%s", self._container.id, follow, since)
        stream = self._container.logs(stream=True, follow=follow, timestamps=True, since=since)
        with closing(stream):
            for stamp_ns, payload in _messages(stream):
                if stamp_ns is None:
                    self._log.write(payload)
                    continue
                if self._floor_ns is not None and stamp_ns <= self._floor_ns:
                    continue
                self._last_ns = max(stamp_ns, self._last_ns or 0)
                self._log.write(payload, stamp=format_ns(stamp_ns))


def _messages(frames: Iterator[bytes]) -> Iterator[tuple[int | None, bytes]]:
    """Split Docker's ``<RFC3339Nano> <payload>`` frames; frames without a stamp pass as is."""
    for frame in frames:
        stamp, _, payload = frame.partition(b" ")
        stamp_ns = parse_docker_ns(stamp)
        yield (stamp_ns, payload) if stamp_ns is not None else (None, frame)


def parse_docker_ns(stamp: bytes) -> int | None:
    """Nanoseconds since the epoch of ``2024-05-01T12:00:00.123456789Z``, or None."""
    if len(stamp) != _STAMP_LENGTH or not stamp.endswith(b"Z"):
        return None
    try:
        return _epoch_seconds(stamp[:19]) * 1_000_000_000 + int(stamp[20:29])
    except ValueError:
        return None


def format_ns(stamp_ns: int) -> str:
    """The log's timestamp for a Docker time: ``2024-05-01T12:00:00.123Z``."""
    seconds, nanos = divmod(stamp_ns, 1_000_000_000)
    return f"{_second_text(seconds)}.{nanos // 1_000_000:03d}Z"


@lru_cache(maxsize=256)  # a busy container writes thousands of lines within one second
def _epoch_seconds(second: bytes) -> int:
    moment = datetime.strptime(second.decode(), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp())


@lru_cache(maxsize=256)
def _second_text(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def resume_point(log_path: Path) -> int | None:
    """Docker time (ns) just before the log's last output line: copying resumes there.

    Lines are stamped to the millisecond, so a line or two from that same
    millisecond may appear twice; none is lost.
    """
    for line in reversed(tail(log_path, 20)):
        stamp = parse_timestamp(line)
        if stamp is not None and not line.split(" ", 1)[-1].startswith(NOTE_PREFIX):
            return (stamp - _EPOCH) // timedelta(milliseconds=1) * 1_000_000 - 1
    return None
