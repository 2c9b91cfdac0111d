"""Reading a node's log for the UI: its tail, what came after an offset, the whole file.

Only files inside the bot's data directory are ever read, whatever the store
says, so no request can make the UI serve another file.  Chunks end on a line
break (until the execution ended), so a line is never shown half-written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ci_bot.settings import Settings
from ci_bot.store.records import Execution

TAIL_BYTES = 256 * 1024  # what a page shows at first; the rest is a download away
CHUNK_BYTES = 256 * 1024


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
    """The lines after byte ``offset``; with ``whole_lines`` an unfinished last line waits."""
    size = _size(path)
    offset = min(max(offset, 0), size)
    data = _read(path, offset, min(max_bytes, size - offset))
    if whole_lines and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
    return LogChunk(offset, offset + len(data), size, _lines(data))


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
