"""Docker's log and attach streams undone over blocks cut anywhere, without Docker."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from ci_bot.executors.logstream import Dechunker, split_frames, split_runs

STAMP = b"2024-05-01T12:00:00.123456789Z"


def chunked(*chunks: bytes) -> bytes:
    """``chunks`` in HTTP/1.1 chunked transfer coding, with the last (empty) chunk."""
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return body + b"0\r\n\r\n"


def frame(payload: bytes, stream: int = 1) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def cuts_of(data: bytes, bounds: list[int]) -> list[bytes]:
    edges = [0, *sorted({b for b in bounds if 0 < b < len(data)}), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(edges)]


def test_dechunking_a_body_cut_at_every_position() -> None:
    chunks = [b"hello", b"x" * 300, b"\r\n0\r\n inside data \r\n"]
    coded = chunked(*chunks) + b"not part of the body"
    for cut in range(len(coded) + 1):
        dechunk = Dechunker()
        out = dechunk.feed(coded[:cut]) + dechunk.feed(coded[cut:])
        assert out == b"".join(chunks)
        assert dechunk.done


@given(
    chunks=st.lists(st.binary(max_size=40), max_size=6),
    bounds=st.lists(st.integers(0, 400), max_size=10),
)
def test_dechunking_blocks_cut_anywhere(chunks: list[bytes], bounds: list[int]) -> None:
    coded = chunked(*(chunk for chunk in chunks if chunk))
    dechunk = Dechunker()
    out = b"".join(dechunk.feed(block) for block in cuts_of(coded, bounds))
    assert out == b"".join(chunks)
    assert dechunk.done


def test_a_chunk_size_with_an_extension() -> None:
    dechunk = Dechunker()
    assert dechunk.feed(b"3;name=value\r\nabc\r\n0\r\n\r\n") == b"abc"
    assert dechunk.done


def test_frames_with_stamps_and_without() -> None:
    body = frame(STAMP + b" one\n") + frame(b"no stamp here", 2) + frame(STAMP + b" ")
    frames, rest = split_frames(body + frame(STAMP + b" two\n")[:-3])

    assert frames.stamps == [STAMP, b"", STAMP]
    assert frames.texts == [b"one\n", b"no stamp here", b""]
    assert frames.streams == [1, 2, 1]
    assert rest == frame(STAMP + b" two\n")[:-3]  # waits for the rest of its frame


@given(
    payloads=st.lists(st.tuples(st.integers(1, 2), st.binary(max_size=30)), max_size=8),
    bounds=st.lists(st.integers(0, 400), max_size=10),
)
def test_runs_keep_each_streams_bytes_in_order(
    payloads: list[tuple[int, bytes]], bounds: list[int]
) -> None:
    body = b"".join(frame(payload, stream) for stream, payload in payloads)
    got: dict[int, bytes] = {1: b"", 2: b""}
    carry = b""
    for block in cuts_of(body, bounds):
        runs, carry = split_runs(carry + block)
        for stream, data in runs:
            got[stream] += data
    assert carry == b""
    for stream in (1, 2):
        assert got[stream] == b"".join(p for s, p in payloads if s == stream)


def test_consecutive_frames_of_one_stream_make_one_run() -> None:
    body = frame(b"a") + frame(b"b") + frame(b"E", 2) + frame(b"c")
    assert split_runs(body) == ([(1, b"ab"), (2, b"E"), (1, b"c")], b"")


def test_frames_in_runs_of_one_stream_and_filtered() -> None:
    body = b"".join(frame(STAMP + b" %d\n" % n, stream) for n, stream in enumerate([1, 1, 2, 1]))
    frames, _ = split_frames(body)

    assert [(s, texts) for s, _, texts in frames.runs()] == [
        (1, [b"0\n", b"1\n"]),
        (2, [b"2\n"]),
        (1, [b"3\n"]),
    ]
    kept = frames.where([False, True, True, False])
    assert (kept.texts, kept.streams) == ([b"1\n", b"2\n"], [1, 2])
    assert list(kept.where([True, False]).runs()) == [(1, [STAMP], [b"1\n"])]
