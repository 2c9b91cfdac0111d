"""Reading a node's log for the UI: its tail, what came after an offset, the whole file.

Only files inside the bot's data directory are ever read, whatever the store
says, so no request can make the UI serve another file.  Chunks end on a line
break (but at the very end of a finished log), so a line is never shown
half-written and the page can number lines by counting them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ci_bot.settings import Settings
from ci_bot.store.records import Execution

TAIL_BYTES = 256 * 1024  # what a page shows at first; the rest is a download away
CHUNK_BYTES = 256 * 1024
MAX_CHUNK_BYTES = 4 * 1024 * 1024  # what one request may ask for (the page reads logs whole)
COUNT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class LogChunk:
    start: int  # byte offset of the first line
    end: int  # byte offset after the last line: where the next read starts
    size: int  # the file's size now
    lines: list[str]

    @property
    def truncated(self) -> bool:
        """Bytes before ``start`` were left out."""
        return self.start > 0


def log_file(settings: Settings, execution: Execution) -> Path | None:
    """The execution's log file when it lies inside the data directory, else None."""
    if not execution.log_path:
        return None
    path = Path(execution.log_path).resolve()
    if not path.is_relative_to(settings.data_dir.resolve()):
        return None
    return path


def read_tail(path: Path, max_bytes: int = TAIL_BYTES) -> LogChunk:
    """The last whole lines of ``path`` within ``max_bytes``."""
    size = _size(path)
    start = max(0, size - max_bytes)
    data = _read(path, start, size - start)
    if start > 0:
        cut = data.find(b"\n") + 1  # the first line is probably cut: drop it
        start, data = start + cut, data[cut:]
    return LogChunk(start, start + len(data), size, _lines(data))


def read_from(
    path: Path, offset: int, *, whole_lines: bool, max_bytes: int = CHUNK_BYTES
) -> LogChunk:
    """The lines after byte ``offset``.  A chunk that stops before the end of the file
    ends on a line break (unless one line is longer than ``max_bytes``); with
    ``whole_lines`` (the execution runs) an unfinished last line waits too."""
    size = _size(path)
    offset = min(max(offset, 0), size)
    data = _read(path, offset, min(max_bytes, size - offset))
    short = offset + len(data) < size
    if (whole_lines or short) and not data.endswith(b"\n") and (whole_lines or b"\n" in data):
        data = data[: data.rfind(b"\n") + 1]
    return LogChunk(offset, offset + len(data), size, _lines(data))


def count_lines(path: Path, end: int) -> int:
    """How many lines the first ``end`` bytes of ``path`` hold (``end`` at a line's start)."""
    count, offset = 0, 0
    with path.open("rb") as handle:
        while offset < end:
            data = handle.read(min(COUNT_BYTES, end - offset))
            if not data:
                break
            count += data.count(b"\n")
            offset += len(data)
    return count


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0  # not started yet


def _read(path: Path, offset: int, count: int) -> bytes:
    if count <= 0:
        return b""
    with path.open("rb") as handle:
        handle.seek(offset, os.SEEK_SET)
        return handle.read(count)


def _lines(data: bytes) -> list[str]:
    # split on "\n" only: a "\r" of a progress bar stays inside its line
    lines = data.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines
