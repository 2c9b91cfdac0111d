"""Docker's container-logs stream, read in large blocks rather than frame by frame.

docker-py reads ``GET /containers/{id}/logs`` one frame at a time: an HTTP chunk
header, Docker's 8-byte multiplex header and the payload, each through urllib3 and
http.client — about 20 µs of Python per log line, most of a node's logging cost.
Here the response's socket is read up to ``BLOCK_BYTES`` at a time and both framings
are undone over the whole block: HTTP/1.1 chunked transfer coding (``Dechunker``),
then Docker's multiplexing, ``[stream, 0, 0, 0, size as 4 bytes big-endian]``
before each payload (``split_frames``).  What is left per line is a few slices.

With ``timestamps=True`` each payload is ``<RFC3339Nano, fixed width, UTC> <text>``
and, for the json-file and local log drivers, holds one line (Docker cuts longer
lines into messages of 16 KiB).
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from docker import APIClient
from docker.errors import DockerException, create_api_error_from_http_exception
from docker.models.containers import Container
from requests import HTTPError, Response

BLOCK_BYTES = 256 * 1024
STAMP_BYTES = len(b"2006-01-02T15:04:05.000000000Z")
_HEADER_BYTES = 8
_TEXT_AT = _HEADER_BYTES + STAMP_BYTES + 1  # header, stamp, one space
_Z, _SPACE = ord("Z"), ord(" ")


@dataclass
class Frames:
    """The messages of one block: ``stamps[i]`` is message i's Docker stamp (``b""``
    when it has none: then ``texts[i]`` is its whole payload), ``streams[i]`` its
    stream (1: stdout, 2: stderr)."""

    stamps: list[bytes] = field(default_factory=list)
    texts: list[bytes] = field(default_factory=list)
    streams: list[int] = field(default_factory=list)

    def add(self, stamp: bytes, text: bytes, stream: int) -> None:
        self.stamps.append(stamp)
        self.texts.append(text)
        self.streams.append(stream)

    def where(self, keep: list[bool]) -> Frames:
        """The messages whose ``keep`` is true."""
        kept = Frames()
        for i in (i for i, wanted in enumerate(keep) if wanted):
            kept.add(self.stamps[i], self.texts[i], self.streams[i])
        return kept

    def runs(self) -> Iterator[tuple[int, list[bytes], list[bytes]]]:
        """Runs of consecutive messages of one stream: ``(stream, stamps, texts)``."""
        streams = self.streams
        if streams and streams.count(streams[0]) == len(streams):  # the usual case
            yield streams[0], self.stamps, self.texts
            return
        start = 0
        while start < len(streams):
            stream = streams[start]
            end = start + 1
            while end < len(streams) and streams[end] == stream:
                end += 1
            yield stream, self.stamps[start:end], self.texts[start:end]
            start = end


def open_logs(container: Container, *, follow: bool, since: float | None) -> Response:
    """The raw response of ``docker logs --timestamps`` (``--follow``: until the
    container stops), stdout and stderr, its body not read yet."""
    api = _api(container)
    params: dict[str, int | float] = {"stdout": 1, "stderr": 1, "timestamps": 1}
    if follow:
        params["follow"] = 1
    if since is not None:
        params["since"] = since
    url = f"{api.base_url}/v{api.api_version}/containers/{container.id}/logs"
    # timeout=None: a followed node may print nothing for an hour (docker-py lifts
    # the read timeout of its own streams the same way).
    response = api.get(url, params=params, stream=True, timeout=None)
    try:
        response.raise_for_status()
    except HTTPError as error:
        response.close()
        raise create_api_error_from_http_exception(error) from None
    return response


def _api(container: Container) -> APIClient:
    """The low-level client of the engine ``container`` lives on."""
    if container.client is None:
        raise DockerException(f"container {container.id} has no client")
    return container.client.api


def frame_blocks(response: Response) -> Iterator[Frames]:
    """The messages of ``response`` (from ``open_logs``), a block's worth at a time."""
    read, chunked = _block_reader(response)
    dechunk = Dechunker() if chunked else None
    carry = b""
    while not (dechunk is not None and dechunk.done):
        block = read()
        if not block:
            break
        body = dechunk.feed(block) if dechunk is not None else block
        frames, carry = split_frames(carry + body if carry else body)
        if frames.texts:
            yield frames


def _block_reader(
    response: Response, *, upgraded: bool = False
) -> tuple[Callable[[], bytes], bool]:
    """A read of up to ``BLOCK_BYTES`` of what the socket holds, and whether those bytes
    are chunk-coded.  http.client's buffered socket file is read directly (``read1``:
    one system call, whatever has arrived), as docker-py does for its attach socket;
    a logs response on any other transport falls back to urllib3, which returns
    dechunked bytes."""
    raw = response.raw
    inner = getattr(raw, "_fp", None)
    if isinstance(inner, http.client.HTTPResponse) and inner.fp is not None:
        socket_file = inner.fp
        return (lambda: socket_file.read1(BLOCK_BYTES)), bool(inner.chunked) and not upgraded
    if upgraded:
        raise DockerException(f"cannot read an attach stream through {type(inner).__name__}")
    return (lambda: raw.read1(BLOCK_BYTES)), False


class Dechunker:
    """Undoes HTTP/1.1 chunked transfer coding over blocks cut anywhere."""

    def __init__(self) -> None:
        self.done = False  # the last (empty) chunk arrived
        self._carry = b""  # an incomplete chunk-size line
        self._data_left = 0  # bytes of the current chunk's data still to come
        self._skip = 0  # bytes of the CRLF after the current chunk's data still to come

    def feed(self, block: bytes) -> bytes:
        """The body bytes that ``block`` completes."""
        data = self._carry + block if self._carry else block
        self._carry = b""
        out: list[bytes] = []
        position, size = 0, len(data)
        while position < size and not self.done:
            if self._data_left:
                end = min(position + self._data_left, size)
                out.append(data[position:end])
                self._data_left -= end - position
                position = end
            elif self._skip:
                taken = min(self._skip, size - position)
                self._skip -= taken
                position += taken
            else:
                line_end = data.find(b"\r\n", position)
                if line_end == -1:
                    self._carry = data[position:]
                    break
                # A size may carry extensions (";name=value"), which nothing here needs.
                chunk = int(data[position:line_end].split(b";", 1)[0], 16)
                position = line_end + 2
                if chunk == 0:
                    self.done = True  # trailers, if any, are not needed
                else:
                    self._data_left, self._skip = chunk, 2
        return b"".join(out)


def split_runs(body: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The whole multiplexed frames at the start of ``body`` as runs of one stream each
    (``(stream, data)``, consecutive frames of one stream joined), and the rest."""
    runs: list[tuple[int, bytes]] = []
    stream, pieces = -1, list[bytes]()
    position, size = 0, len(body)
    while position + _HEADER_BYTES <= size:
        end = position + _HEADER_BYTES + int.from_bytes(body[position + 4 : position + 8])
        if end > size:
            break
        if body[position] != stream:
            if pieces:
                runs.append((stream, b"".join(pieces)))
            stream, pieces = body[position], []
        pieces.append(body[position + _HEADER_BYTES : end])
        position = end
    if pieces:
        runs.append((stream, b"".join(pieces)))
    return runs, body[position:]


def split_frames(body: bytes) -> tuple[Frames, bytes]:
    """The whole multiplexed frames at the start of ``body``, and the rest (the start of
    a frame still arriving)."""
    frames = Frames()
    stamps, texts, streams = frames.stamps, frames.texts, frames.streams
    position, size = 0, len(body)
    while position + _HEADER_BYTES <= size:
        end = position + _HEADER_BYTES + int.from_bytes(body[position + 4 : position + 8])
        if end > size:
            break
        streams.append(body[position])
        if (
            end >= position + _TEXT_AT
            and body[position + _TEXT_AT - 2] == _Z
            and body[position + _TEXT_AT - 1] == _SPACE
        ):
            stamps.append(body[position + _HEADER_BYTES : position + _TEXT_AT - 1])
            texts.append(body[position + _TEXT_AT : end])
        else:  # no stamp (not asked for, or not Docker's format): the payload as is
            stamps.append(b"")
            texts.append(body[position + _HEADER_BYTES : end])
        position = end
    return frames, body[position:]


class Attached:
    """A container's output from ``docker attach``, opened before the container starts
    so that none is missed: stdout and stderr as the container writes them, in large
    blocks (no per-line framing, no timestamps: the log stamps each block on arrival).
    Each frame says which stream it is from: the log assembles each stream's lines
    apart, so a line on stderr never ends up glued to an unfinished one on stdout
    (Docker copies the two pipes independently: their order is not the writes').
    The stream ends when the container's output closes, after its last byte."""

    def __init__(self, container: Container) -> None:
        api = _api(container)
        url = f"{api.base_url}/v{api.api_version}/containers/{container.id}/attach"
        # What docker-py's attach_socket sends, keeping the response so that closing
        # it closes the connection; timeout=None: a node may print nothing for an hour.
        self._response = api.post(
            url,
            params={"stdout": 1, "stderr": 1, "stream": 1},
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            stream=True,
            timeout=None,
        )
        try:
            self._response.raise_for_status()
        except HTTPError as error:
            self._response.close()
            raise create_api_error_from_http_exception(error) from None
        self._read, _ = _block_reader(self._response, upgraded=True)

    def blocks(self) -> Iterator[list[tuple[int, bytes]]]:
        """The output as it comes: per read of the socket, its runs of bytes from one
        stream, as ``(stream, data)``: 1 for stdout, 2 for stderr."""
        carry = b""
        while block := self._read():
            runs, carry = split_runs(carry + block if carry else block)
            if runs:
                yield runs

    def close(self) -> None:
        self._response.close()
