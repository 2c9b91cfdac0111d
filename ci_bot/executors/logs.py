"""A node's log on disk: timestamped lines, secrets masked before they reach disk.

Every line written is ``<ISO-8601 UTC, milliseconds, Z> <text>``. Output arrives in
arbitrary chunks; a line is masked once it is whole, so a secret split across
chunks is still caught. Memory stays bounded: a line with no newline in sight is
written in pieces of ``PIECE_BYTES`` (each piece becomes a line of its own), and
the cut between pieces never falls inside a secret. Past ``limit_bytes`` (the
bot's CI_BOT_LOG_LIMIT) output is dropped, once noted; ci-bot's own notes still go in.

What is masked, and what is not, is ``ci_bot/secrets/masking.py``'s: each line of
a secret, and its base64, base64url and hex forms.  No form holds a newline, so
masking whole lines catches a form however the output was chunked.

The work is done per chunk, not per line (a node may print millions of lines): the
complete lines of a chunk are masked together (one scan; the same result as line by
line, since no form spans a newline), stamped with one ``bytes.replace`` and written
with one call.  Each output stream (stdout, stderr) keeps its own unfinished line.

Once ``count_output`` was called (by the follower of the node's container), every
write is the container's output, and the writer keeps count, per stream, of the
bytes it took in and committed (on disk, or dropped past the limit; not an
unfinished line still held): in ``<log>.offsets`` (``offsets.py``), updated after
each write once its lines are flushed.  The counts are of the output's bytes, not
of the masked and stamped text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain, repeat
from pathlib import Path
from types import TracebackType

from ci_bot.executors.offsets import Offsets, OffsetsFile
from ci_bot.secrets.masking import Masker
from ci_bot.tree.params import write_mem

PIECE_BYTES = 64 * 1024
STDOUT = 1  # Docker's number for the stream
STDERR = 2
NOTE_PREFIX = "[ci-bot] "  # lines ci-bot itself adds, e.g. why a node ended
CUT_NOTE = "the log was cut at "
CUT_NOTE_WITHIN = 20  # last lines a re-attached writer looks at for an earlier cut


def utc_timestamp() -> str:
    """Now as ``2024-05-01T12:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(line: str) -> datetime | None:
    """The timestamp a log line starts with, or None when it has none."""
    stamp = line.split(" ", 1)[0]
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


class LogWriter:
    """Appends a container's output to ``path`` as whole lines, masked and timestamped."""

    def __init__(
        self,
        path: Path,
        secrets: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], str] = utc_timestamp,
        piece_bytes: int = PIECE_BYTES,
        limit_bytes: int | None = None,
        also_mask: Iterable[str] = (),
    ) -> None:
        self._masker = Masker.of_secrets(secrets or {}, also=also_mask)
        self._holdback = max(self._masker.longest - 1, 0)
        self._piece = piece_bytes
        self._clock = clock
        # Per output stream (stdout, stderr): the start of a line not written yet
        # (< piece + holdback bytes), and when its last part came.
        self._pending: dict[int, tuple[bytes, str]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._limit = limit_bytes
        self._written = self._file.tell()  # a re-attached node appends to what it wrote
        # A re-attached node's log may have been cut already: it stays cut, noted once.
        self._cut_off = limit_bytes is not None and self._written > 0 and _was_cut(path)
        self._path = path
        # While counting: per stream, the bytes of output taken in (committed or pending).
        self._taken: dict[int, int] = {}
        self._offsets: OffsetsFile | None = None
        self._stored = (0, 0)  # the counts in the file

    def count_output(self, committed: Offsets | None = None) -> None:
        """From now on the writes are a container's output, of which ``committed`` bytes
        were committed before (by an engine that followed it earlier; None: none):
        keep the counts in ``<log>.offsets``."""
        committed = committed or Offsets()
        self._flush_pending()  # ci-bot's own lines before (a build's) are no output
        self._taken = {STDOUT: committed.stdout, STDERR: committed.stderr}
        if self._offsets is None:
            self._offsets = OffsetsFile(self._path)
        self._stored = (committed.stdout, committed.stderr)
        self._offsets.store(*self._stored)

    @property
    def committed(self) -> Offsets:
        """The bytes of each stream's output committed to the log (while counting)."""
        return Offsets(*self._committed())

    def _committed(self) -> tuple[int, int]:
        pending, taken = self._pending, self._taken
        return (
            taken.get(STDOUT, 0) - (len(pending[STDOUT][0]) if STDOUT in pending else 0),
            taken.get(STDERR, 0) - (len(pending[STDERR][0]) if STDERR in pending else 0),
        )

    def write(self, chunk: bytes, stamp: str | None = None, *, stream: int = STDOUT) -> None:
        """Take the next chunk of ``stream``'s output (received at ``stamp``, default now).

        Every complete line is on disk when this returns.  Each stream's lines are
        assembled apart: a chunk of stderr does not end an unfinished stdout line.
        """
        self._take(chunk, stamp, stream)
        self._store_counts()

    def _take(self, chunk: bytes, stamp: str | None, stream: int) -> None:
        if not chunk:
            return
        if self._offsets is not None:
            self._taken[stream] = self._taken.get(stream, 0) + len(chunk)
        pending = self._pending.pop(stream, None)
        data = pending[0] + chunk if pending else chunk
        stamp = stamp or self._clock()
        prefix = f"{stamp} ".encode()
        out: list[bytes] = []
        start = data.rfind(b"\n") + 1
        if start:
            # The complete lines at once: no form holds a newline, so masking them
            # together hides what masking each would, and one replace stamps them all
            # (each newline but the last is followed by the next line's stamp).
            masked = self._mask(data[:start])
            out += [prefix, masked.replace(b"\n", b"\n" + prefix, masked.count(b"\n") - 1)]
        while len(data) - start >= self._piece + self._holdback:
            cut = self._cut(data, start)
            out.append(prefix + self._mask(data[start:cut]) + b"\n")
            start = cut
        if start < len(data):
            self._pending[stream] = (data[start:], stamp)
        self._emit(out)

    def write_lines(
        self, stamps: Sequence[bytes], lines: Sequence[bytes], *, stream: int = STDOUT
    ) -> None:
        """Take whole lines of ``stream`` (each ending with a newline), ``lines[i]``
        received at ``stamps[i]`` (the log's format, as bytes): what a followed
        container's output mostly is.  The lines are on disk when this returns."""
        if not lines:
            return
        if stream in self._pending:  # the first line ends an unfinished one
            self._take(lines[0], stamps[0].decode(), stream)
            stamps, lines = stamps[1:], lines[1:]
        if lines:
            joined = b"".join(lines)
            if self._offsets is not None:
                self._taken[stream] = self._taken.get(stream, 0) + len(joined)
            if self._masker.occurs_in(joined):  # rarely: mask line by line
                lines = [self._mask(line) for line in lines]
            self._emit(
                [b"".join(chain.from_iterable(zip(stamps, repeat(b" "), lines, strict=False)))]
            )
        self._store_counts()

    def note(self, message: str) -> None:
        """A line from ci-bot itself (why a node ended), after any unfinished output line."""
        self._flush_pending()
        self._store_counts()
        self._emit(
            [f"{self._clock()} {NOTE_PREFIX}".encode() + self._mask(message.encode()) + b"\n"],
            output=False,
        )

    def close(self) -> None:
        """Write what is left of an unterminated last line and close the file."""
        if self._file.closed:
            return
        self._flush_pending()
        self._store_counts()
        self._file.close()
        if self._offsets is not None:
            self._offsets.close()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _flush_pending(self) -> None:
        for stream in sorted(self._pending):
            text, stamp = self._pending.pop(stream)
            self._emit([f"{stamp} ".encode() + self._mask(text) + b"\n"])

    def _store_counts(self) -> None:
        """The counts into ``<log>.offsets``, after the lines they count were flushed."""
        if self._offsets is not None:
            committed = self._committed()
            if committed != self._stored:
                self._offsets.store(*committed)
                self._stored = committed

    def _cut(self, data: bytes, start: int) -> int:
        """Where the piece starting at ``start`` ends: never inside a secret."""
        cut = start + self._piece
        for begin, end in self._masker.spans(data, start, cut + self._holdback):
            if begin < cut < end:
                return end
        return cut

    def _mask(self, text: bytes) -> bytes:
        return self._masker.hide_bytes(text)

    def _emit(self, blocks: list[bytes], *, output: bool = True) -> None:
        """Write ``blocks`` (each one or more whole log lines) and flush them."""
        if output and self._limit is not None:
            blocks = self._within_limit(blocks)
        if blocks:
            self._file.write(b"".join(blocks) if len(blocks) > 1 else blocks[0])
            self._file.flush()

    def _within_limit(self, blocks: list[bytes]) -> list[bytes]:
        """The lines that still fit; at the first that does not, a note instead of it."""
        assert self._limit is not None
        if self._cut_off:
            return []
        size = sum(map(len, blocks))
        if self._written + size <= self._limit:
            self._written += size
            return blocks
        kept: list[bytes] = []
        for line in _lines_of(b"".join(blocks)):
            if self._written + len(line) > self._limit:
                self._cut_off = True
                limit = write_mem(self._limit)
                note = f"{CUT_NOTE}{limit} (CI_BOT_LOG_LIMIT); later output is dropped"
                kept.append(f"{self._clock()} {NOTE_PREFIX}{note}\n".encode())
                break
            self._written += len(line)
            kept.append(line)
        return kept


def _was_cut(path: Path) -> bool:
    """Whether the log's end holds the cut's note (only ci-bot's own few notes follow it)."""
    marker = NOTE_PREFIX + CUT_NOTE
    return any(marker in line for line in tail(path, CUT_NOTE_WITHIN))


def _lines_of(text: bytes) -> list[bytes]:
    """``text``'s lines, each with its newline (only ``\\n`` ends a line: not ``\\r``)."""
    return [line + b"\n" for line in text.split(b"\n")[:-1]]


def tail(path: Path, lines: int = 50, *, block_bytes: int = 8192) -> list[str]:
    """The last ``lines`` lines of ``path``, read from the end (never the whole file)."""
    if lines <= 0:
        return []
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return []
    with handle:
        position = handle.seek(0, os.SEEK_END)
        blocks: list[bytes] = []
        newlines = 0
        while position > 0 and newlines <= lines:
            size = min(block_bytes, position)
            position -= size
            handle.seek(position)
            blocks.append(handle.read(size))
            newlines += blocks[-1].count(b"\n")
    parts = b"".join(reversed(blocks)).split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    if position > 0:
        parts = parts[1:]  # the first part may be the end of a longer line
    return [part.decode("utf-8", "replace") for part in parts[-lines:]]
