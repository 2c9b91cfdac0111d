"""How much of a container's output a node's log holds, kept beside the log.

``12.log.offsets`` holds, per stream (stdout, stderr), how many bytes of the
container's output the log has committed: written to the file, or dropped past the
log's size limit.  An engine that takes over a node (after the one following it was
killed) skips exactly that many bytes of each stream in Docker's logs and copies the
rest: the log neither repeats nor loses output, whatever the clocks say.

The record has a fixed width and is rewritten in place with one ``pwrite`` after
the log data it counts were written and flushed: a process killed at any moment
leaves counts that never exceed what the log holds.  Killed between the two writes,
the counts lag by one block of output, which the next engine copies again.

Only the node's own log has one (not a service's log or a debug session's); nothing
that lists or serves logs looks at it (they all name ``*.log`` files).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".offsets"
_RECORD = re.compile(rb"stdout (\d{20}) stderr (\d{20})\n")


@dataclass(frozen=True)
class Offsets:
    """Bytes of each stream's output that the log has committed."""

    stdout: int = 0
    stderr: int = 0

    def record(self) -> bytes:
        return _record(self.stdout, self.stderr)


def _record(stdout: int, stderr: int) -> bytes:
    return b"stdout %020d stderr %020d\n" % (stdout, stderr)


def offsets_path(log_path: Path) -> Path:
    """Where the counts of ``log_path`` are kept: ``12.log`` → ``12.log.offsets``."""
    return log_path.with_name(log_path.name + SUFFIX)


def read_offsets(log_path: Path) -> Offsets | None:
    """The counts kept beside ``log_path``; None when there are none (a log written by
    an older ci-bot) or they cannot be read."""
    try:
        found = _RECORD.fullmatch(offsets_path(log_path).read_bytes())
    except OSError:
        return None
    return Offsets(int(found[1]), int(found[2])) if found else None


class OffsetsFile:
    """The counts of one log, rewritten in place as the log grows."""

    def __init__(self, log_path: Path) -> None:
        self._fd = os.open(offsets_path(log_path), os.O_WRONLY | os.O_CREAT, 0o644)

    def store(self, stdout: int, stderr: int) -> None:
        """Replace the counts (one system call; the record's width never changes)."""
        os.pwrite(self._fd, _record(stdout, stderr), 0)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
