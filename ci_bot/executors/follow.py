"""Following one container: ``Watch`` kills it (cancel, deadline) and remembers why;
``OutputFollower`` copies its output into the log exactly once.

A container the executor starts is followed through ``docker attach``, opened
before ``start``: the stream holds all of its output, in the large blocks the
container wrote, and ends after the last byte; each block is stamped as it arrives.
That is the cheap path: Docker's logs endpoint decodes and frames every line on
its side (about four times the time of the attach stream for short lines).

A restarted engine picks a running (or ended) container up where its log ends, with
the logs endpoint: ``timestamps=True`` (nanoseconds, one frame per log message),
messages since shortly before the log's last output line.  Docker's follow stream
can end before the last partial line (output without a final newline) is
delivered, so after the container stopped a last read asks for messages since the
last one written and drops those already seen.
"""

from __future__ import annotations

import logging
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container
from requests import RequestException

from ci_bot.executors.logs import NOTE_PREFIX, LogWriter, parse_timestamp, tail
from ci_bot.executors.logstream import Attached, frame_blocks, open_logs

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RESUME_MARGIN = timedelta(seconds=2)
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
    """Streams one container's output into ``log``: from its attach stream (``attach``,
    before the container starts) or from Docker's logs (a container picked up again;
    ``floor_ns``: skip messages up to it)."""

    def __init__(
        self,
        container: Container,
        log: LogWriter,
        floor_ns: int | None = None,
        attached: Attached | None = None,
    ) -> None:
        self._container = container
        self._log = log
        self._floor_ns = floor_ns
        self._last_ns = floor_ns
        self._attached = attached

    @classmethod
    def attach(cls, container: Container, log: LogWriter) -> OutputFollower:
        """A follower of a container not started yet (call ``close`` when done)."""
        logger.debug("docker attach %s", container.id)
        return cls(container, log, attached=Attached(container))

    def follow(self) -> None:
        """Copy the output as it comes, until the container stops."""
        if self._attached is None:
            self._copy(follow=True)
            return
        for runs in self._attached.blocks():
            for stream, data in runs:
                self._log.write(data, stream=stream)

    def catch_up(self) -> None:
        """After the container stopped: copy what the follow stream did not deliver
        (an attach stream delivered everything)."""
        if self._attached is not None:
            return
        self._floor_ns = self._last_ns
        try:
            self._copy(follow=False)
        except NotFound:
            pass  # removed by another executor that followed it too: it had ended
        except APIError as error:
            if error.status_code != 409:  # 409: that removal is under way
                raise

    def close(self) -> None:
        if self._attached is not None:
            self._attached.close()

    def _copy(self, *, follow: bool) -> None:
        # Within one read, order is Docker's (stdout and stderr may interleave slightly
        # out of timestamp order), so only the floor from before the read filters.
        since = (self._floor_ns - 1_000_000) / 1e9 if self._floor_ns else None
        floor = docker_stamp(self._floor_ns) if self._floor_ns is not None else None
        last = docker_stamp(self._last_ns) if self._last_ns is not None else b""
        logger.debug("docker logs %s follow=%s since=%s", self._container.id, follow, since)
        with closing(open_logs(self._container, follow=follow, since=since)) as response:
            for frames in frame_blocks(response):
                stamps, texts = frames.stamps, frames.texts
                if floor is not None:  # fixed-width UTC stamps sort as their times do
                    kept = [i for i, stamp in enumerate(stamps) if not b"" < stamp <= floor]
                    stamps, texts = [stamps[i] for i in kept], [texts[i] for i in kept]
                last = max(last, max(stamps, default=b""))
                self._write(stamps, texts)
                if last:
                    self._last_ns = parse_docker_ns(last)

    def _write(self, stamps: list[bytes], texts: list[bytes]) -> None:
        """A block's messages into the log: whole stamped lines in one call (the usual
        case), anything else (a line cut in 16 KiB messages, a last line without a
        newline, a message without a stamp) one message at a time."""
        if all(stamps) and all(text[-1:] == b"\n" for text in texts):
            self._log.write_lines([stamp[:23] + b"Z" for stamp in stamps], texts)
            return
        for stamp, text in zip(stamps, texts, strict=True):
            self._log.write(text, stamp=f"{stamp[:23].decode()}Z" if stamp else None)


def parse_docker_ns(stamp: bytes) -> int | None:
    """Nanoseconds since the epoch of ``2024-05-01T12:00:00.123456789Z``, or None."""
    if len(stamp) != _STAMP_LENGTH or not stamp.endswith(b"Z"):
        return None
    try:
        return _epoch_seconds(stamp[:19]) * 1_000_000_000 + int(stamp[20:29])
    except ValueError:
        return None


def docker_stamp(stamp_ns: int) -> bytes:
    """Docker's fixed-width stamp for a time: ``2024-05-01T12:00:00.123456789Z``."""
    seconds, nanos = divmod(stamp_ns, 1_000_000_000)
    return f"{_second_text(seconds)}.{nanos:09d}Z".encode()


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
    """Docker time (ns) shortly before the log's last output line: copying resumes there.

    That line was stamped when ci-bot read it (to the millisecond), a little after
    Docker's own stamp, so copying resumes ``RESUME_MARGIN`` earlier: the output of
    those seconds may appear twice in the log; none is lost (unless the engine's
    clock runs behind this machine's by more than the margin).
    """
    for line in reversed(tail(log_path, 20)):
        stamp = parse_timestamp(line)
        if stamp is not None and not line.split(" ", 1)[-1].startswith(NOTE_PREFIX):
            written_ms = (stamp - _EPOCH - RESUME_MARGIN) // timedelta(milliseconds=1)
            return written_ms * 1_000_000 - 1
    return None
