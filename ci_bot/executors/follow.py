"""Following one container: ``Watch`` kills it (cancel, deadline) and remembers why;
``OutputFollower`` copies its output into the log exactly once.

A container the executor starts is followed through ``docker attach``, opened
before ``start``: the stream holds all of its output, in the large blocks the
container wrote, and ends after the last byte; each block is stamped as it arrives.
That is the cheap path: Docker's logs endpoint decodes and frames every line on
its side (about four times the time of the attach stream for short lines).

Either way the log counts, per stream, the bytes of output it committed, in
``<log>.offsets`` (``offsets.py``).  A restarted engine picks a running (or ended)
container up exactly there, with the logs endpoint: ``timestamps=True`` (Docker's
stamps, to the nanosecond, one frame per log message), from the container's first
message, skipping that many bytes of each stream (a message may be cut at the
count: its tail is copied).  The logs endpoint gives each stream's bytes as the
attach stream did (the json-file and local drivers cut lines longer than 16 KiB
into messages; joined, they are the bytes the container wrote).  Docker's follow
stream can end before the last partial line (output without a final newline) is
delivered, so after the container stopped a last read goes over the logs again and
skips what was copied.

Counting from the first message needs Docker's logs to hold all of the output: the
json-file driver without rotation (Docker's default) does; a rotating one
(``max-size``; the local driver rotates by default) may have dropped the start.
There, and for a log without counts (written by an older ci-bot), the container is
picked up by time instead: messages since shortly before the log's last output line
(``time_resume_point``; the output of those seconds may then appear twice).
"""

from __future__ import annotations

import logging
import threading
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container
from requests import RequestException

from ci_bot.executors.logs import NOTE_PREFIX, STDERR, STDOUT, LogWriter, parse_timestamp, tail
from ci_bot.executors.logstream import Attached, Frames, frame_blocks, open_logs
from ci_bot.executors.offsets import Offsets, read_offsets

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


@dataclass(frozen=True)
class ResumePoint:
    """Where copying a container's output into its log goes on: after ``offsets`` bytes
    of each stream (the log's counts), or, for a log without counts or a container
    whose logs may have lost their start, after Docker time ``floor_ns`` (None for
    both: from the start)."""

    offsets: Offsets | None = None
    floor_ns: int | None = None


class OutputFollower:
    """Streams one container's output into ``log``: from its attach stream (``attach``,
    before the container starts) or from Docker's logs (a container picked up again,
    from ``resume``)."""

    def __init__(
        self,
        container: Container,
        log: LogWriter,
        resume: ResumePoint | None = None,
        attached: Attached | None = None,
    ) -> None:
        resume = resume or ResumePoint()
        offsets = resume.offsets
        if attached is None and offsets is not None and not keeps_all_output(container):
            logger.info("the logs of %s may have been rotated: resuming by time", container.id)
            offsets = None
        floor_ns = None if offsets is not None else resume.floor_ns
        self._container = container
        self._log = log
        self._floor_ns = floor_ns
        self._last_ns = floor_ns
        self._attached = attached
        # Logs path, counting: per stream, the bytes of Docker's logs read so far
        # (copied, or counted by an earlier engine), and those a read from the first
        # message still has to pass over.
        self._exact = offsets is not None
        self._read: dict[int, int] = {}
        self._skip: dict[int, int] = {}
        if attached is not None:
            log.count_output()
        elif offsets is not None:
            log.count_output(offsets)
            self._read = {STDOUT: offsets.stdout, STDERR: offsets.stderr}

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
        if self._exact:  # from the start again, passing over what was read
            self._floor_ns = None
        else:  # since the last message read (by Docker's stamps, which all are)
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
        if self._exact:  # a read from the start passes over every byte read before
            self._skip = {stream: size for stream, size in self._read.items() if size}
        logger.debug("docker logs %s follow=%s since=%s", self._container.id, follow, since)
        with closing(open_logs(self._container, follow=follow, since=since)) as response:
            for frames in frame_blocks(response):
                last = max(last, max(frames.stamps, default=b""))
                if floor is not None:  # fixed-width UTC stamps sort as their times do
                    frames = frames.where([not b"" < stamp <= floor for stamp in frames.stamps])
                if self._skip:
                    frames = self._skipped(frames)
                self._write(frames)
                if last:
                    self._last_ns = parse_docker_ns(last)

    def _skipped(self, frames: Frames) -> Frames:
        """``frames`` without the bytes still to pass over, per stream (a message cut at
        the count keeps its tail)."""
        kept = Frames()
        for stamp, text, stream in zip(frames.stamps, frames.texts, frames.streams, strict=True):
            left = self._skip.get(stream, 0)
            if left:
                if left >= len(text):
                    self._skip[stream] = left - len(text)
                    continue
                text = text[left:]
                self._skip[stream] = 0
            kept.add(stamp, text, stream)
        self._skip = {stream: left for stream, left in self._skip.items() if left}
        return kept

    def _write(self, frames: Frames) -> None:
        """A block's messages into the log, each stream's run of messages apart: whole
        stamped lines in one call (the usual case), anything else (a line cut in 16 KiB
        messages, a last line without a newline, a message without a stamp) one message
        at a time."""
        for stream, stamps, texts in frames.runs():
            self._read[stream] = self._read.get(stream, 0) + sum(map(len, texts))
            if all(stamps) and all(text[-1:] == b"\n" for text in texts):
                self._log.write_lines([stamp[:23] + b"Z" for stamp in stamps], texts, stream=stream)
                continue
            for stamp, text in zip(stamps, texts, strict=True):
                stamped = f"{stamp[:23].decode()}Z" if stamp else None
                self._log.write(text, stamp=stamped, stream=stream)


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


def resume_point(log_path: Path) -> ResumePoint:
    """Where copying into ``log_path`` goes on: exactly after the bytes its counts say
    it holds; by time for a log without counts (and in case Docker's logs do not
    hold all of the output)."""
    return ResumePoint(offsets=read_offsets(log_path), floor_ns=time_resume_point(log_path))


def keeps_all_output(container: Container) -> bool:
    """Whether Docker's logs of ``container`` hold all of its output since it started:
    the json-file driver without rotation.  (The local driver rotates by default;
    other drivers may not be read back as written.)"""
    config = (container.attrs.get("HostConfig") or {}).get("LogConfig") or {}
    options = config.get("Config") or {}
    return config.get("Type") == "json-file" and not options.get("max-size")


def time_resume_point(log_path: Path) -> int | None:
    """Docker time (ns) shortly before the log's last output line: for a log without
    counts, copying resumes there.

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
