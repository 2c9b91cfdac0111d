"""LogWriter and tail, without Docker: masking, long lines, timestamps, reading from the end."""

from __future__ import annotations

import base64
import itertools
import logging
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_bot.executors.logs import LogWriter, parse_timestamp, tail, utc_timestamp
from ci_bot.secrets.masking import Masker

STAMP = "2024-05-01T12:00:00.000Z"


def written(path: Path) -> list[str]:
    """The lines on disk without their stamps."""
    return [line.removeprefix(f"{STAMP} ") for line in path.read_text().splitlines()]


def writer(path: Path, secrets: dict[str, str] | None = None, piece: int = 64 * 1024) -> LogWriter:
    return LogWriter(path, secrets, clock=lambda: STAMP, piece_bytes=piece)


def test_lines_are_assembled_across_chunks_and_on_disk_at_once(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "n.log"
    with writer(log) as out:
        for chunk in [b"hel", b"lo\nwor", b"ld\n", b"no end"]:
            out.write(chunk)
        assert written(log) == ["hello", "world"]  # the unfinished line waits

    assert written(log) == ["hello", "world", "no end"]


def test_default_stamp_is_utc_milliseconds(tmp_path: Path) -> None:
    with LogWriter(tmp_path / "n.log") as out:
        out.write(b"x\n")
        out.write(b"y\n", stamp="2030-01-02T03:04:05.678Z")

    first, second = (tmp_path / "n.log").read_text().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z x", first)
    assert second == "2030-01-02T03:04:05.678Z y"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_timestamp())


def test_secret_split_across_chunks_is_masked(tmp_path: Path) -> None:
    with writer(tmp_path / "n.log", {"TOKEN": "hunter22"}) as out:
        out.write(b"pw=hun")
        out.write(b"ter22!\nhunter22")

    assert written(tmp_path / "n.log") == ["pw=***!", "***"]
    assert b"hunter" not in (tmp_path / "n.log").read_bytes()


def test_multiline_secret_is_masked_line_by_line(tmp_path: Path) -> None:
    key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\n-----END KEY-----\n"
    with writer(tmp_path / "n.log", {"KEY": key}) as out:
        out.write(key.encode())

    assert written(tmp_path / "n.log") == ["***", "***", "***"]


def test_too_short_secret_is_left_unmasked_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), writer(tmp_path / "n.log", {"PIN": "42"}) as out:
        out.write(b"answer 42\n")

    assert written(tmp_path / "n.log") == ["answer 42"]
    assert "secret PIN" in caplog.text
    assert "42" not in caplog.text.replace("secret PIN", "")


def test_overlong_line_is_written_in_pieces_as_it_comes(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    with writer(log) as out:
        for _ in range(64):
            out.write(b"x" * 16 * 1024)  # 1 MiB, no newline
        pieces = written(log)
        assert len(pieces) >= 15  # already on disk, not held in memory
        assert all(len(piece) == 64 * 1024 for piece in pieces)

    assert "".join(written(log)) == "x" * 2**20


def test_secret_is_never_cut_between_pieces(tmp_path: Path) -> None:
    for offset in range(20):
        log = tmp_path / f"{offset}.log"
        with writer(log, {"S": "abcdef"}, piece=10) as out:
            for byte in b"." * offset + b"abcdef" + b"." * 30:
                out.write(bytes([byte]))

        assert "".join(written(log)) == "." * offset + "***" + "." * 30


@given(
    text=st.text(alphabet="ab\u00e9", max_size=60),
    secrets=st.lists(st.text(alphabet="ab\u00e9", min_size=3, max_size=5), max_size=2),
    cuts=st.lists(st.integers(0, 80), max_size=8),
    piece=st.integers(4, 12),
)
def test_pieces_join_to_the_masked_output(
    text: str, secrets: list[str], cuts: list[int], piece: int
) -> None:
    data = text.encode()
    ordered = sorted(secrets, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None
    expected = pattern.sub("***", text) if pattern else text
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "n.log"
        with writer(log, {f"S{i}": s for i, s in enumerate(secrets)}, piece=piece) as out:
            bounds = [0, *sorted(c for c in cuts if c < len(data)), len(data)]
            for start, end in itertools.pairwise(bounds):
                out.write(data[start:end])
        # A piece boundary may split a multi-byte character; join the bytes, then decode.
        raw = b"".join(line.split(b" ", 1)[1] for line in log.read_bytes().splitlines())
        assert raw.decode() == expected


ENCODED = "tok>>>???-s3cr3t"  # its base64 holds + and /: base64url differs
ENCODED_RAW = ENCODED.encode()
FORMS = {
    "base64": base64.b64encode(ENCODED_RAW),
    "base64 unpadded": base64.b64encode(ENCODED_RAW).rstrip(b"="),
    "base64 of echo": base64.b64encode(ENCODED_RAW + b"\n"),
    "base64url": base64.urlsafe_b64encode(ENCODED_RAW),
    "hex": ENCODED_RAW.hex().encode(),
    "HEX": ENCODED_RAW.hex().upper().encode(),
    "od -tx1": ENCODED_RAW.hex(" ").encode(),
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize("piece", [7, 64 * 1024])
def test_encoded_forms_fed_byte_by_byte_are_masked(tmp_path: Path, form: bytes, piece: int) -> None:
    """Fed one byte at a time, even with pieces shorter than the form."""
    log = tmp_path / "n.log"
    with writer(log, {"TOKEN": ENCODED}, piece=piece) as out:
        for byte in b"pre " + form + b" post\n":
            out.write(bytes([byte]))

    assert "".join(written(log)) == "pre *** post"
    assert form not in log.read_bytes()


def test_the_value_inside_a_longer_base64_stream_is_masked(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    streams = [base64.b64encode(b"x" * before + ENCODED_RAW + b"!") for before in range(3)]
    with writer(log, {"TOKEN": ENCODED}) as out:
        for byte in b"\n".join(streams) + b"\n":
            out.write(bytes([byte]))

    lines = written(log)
    assert len(lines) == 3 and all(line.count("***") == 1 for line in lines)


def test_note_finishes_the_open_line_first(tmp_path: Path) -> None:
    with writer(tmp_path / "n.log", {"T": "secret"}) as out:
        out.write(b"partial")
        out.note("timed out after 2s; secret")

    assert written(tmp_path / "n.log") == ["partial", "[ci-bot] timed out after 2s; ***"]


def test_tail_reads_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    log.write_text("".join(f"line {i} {'y' * (i % 300)}\n" for i in range(1000)))

    last = tail(log, 50, block_bytes=64)

    assert last == [f"line {i} {'y' * (i % 300)}" for i in range(950, 1000)]
    assert tail(log, 1) == [f"line 999 {'y' * 99}"]


def test_tail_edges(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    assert tail(log) == []
    log.write_bytes(b"a\nb\nc")
    assert tail(log, 2) == ["b", "c"]
    assert tail(log, 10, block_bytes=1) == ["a", "b", "c"]
    assert tail(log, 0) == []


def test_parse_timestamp() -> None:
    stamp = parse_timestamp(f"{STAMP} hello")
    assert stamp is not None and stamp.isoformat() == "2024-05-01T12:00:00+00:00"
    assert parse_timestamp("hello world") is None


# -- whole chunks at once: what a followed container's output comes as ----------------

SECRET = "tok-hunter22-XYZ"
LINES = [
    b"plain",
    b"",
    b"progress 10%\rprogress 50%\rprogress 100%",  # \r does not end a line
    b"bad utf-8 \xff\xfe here",
    f"the secret {SECRET} and again {SECRET}".encode(),
    base64.b64encode(SECRET.encode()) + b" (base64)",
    b"tail",
]


def expected_file(lines: list[bytes], secrets: dict[str, str]) -> bytes:
    """The log the old line-at-a-time path wrote: each line masked on its own, stamped."""
    masker = Masker.of_secrets(secrets)
    return b"".join(f"{STAMP} ".encode() + masker.hide_bytes(line) + b"\n" for line in lines)


def test_many_lines_in_one_chunk_give_the_line_by_line_file(tmp_path: Path) -> None:
    lines = LINES * 500
    with writer(tmp_path / "n.log", {"T": SECRET}) as out:
        out.write(b"\n".join(lines) + b"\n")

    assert (tmp_path / "n.log").read_bytes() == expected_file(lines, {"T": SECRET})


def test_a_secret_split_at_every_chunk_boundary_is_masked(tmp_path: Path) -> None:
    data = b"\n".join(LINES) + b"\n"
    expected = expected_file(LINES, {"T": SECRET})
    for cut in range(len(data) + 1):
        for piece in (7, 64 * 1024):
            log = tmp_path / f"{cut}-{piece}.log"
            with writer(log, {"T": SECRET}, piece=piece) as out:
                out.write(data[:cut])
                out.write(data[cut:])
            text = log.read_bytes()
            assert SECRET.encode() not in text.replace(b"\n", b"")
            if piece > len(data):
                assert text == expected, cut


def test_a_2_mb_line_is_written_in_pieces_with_its_secrets_masked(tmp_path: Path) -> None:
    unit = b"x" * 1000 + SECRET.encode()
    line = unit * (2 * 2**20 // len(unit))
    log = tmp_path / "n.log"
    with writer(log, {"T": SECRET}) as out:
        for start in range(0, len(line), 16 * 1024):
            out.write(line[start : start + 16 * 1024])
        out.write(b"\nafter\n")

    pieces = written(log)
    assert pieces[-1] == "after"
    assert all(len(piece) <= 64 * 1024 + len(SECRET) for piece in pieces)
    assert "".join(pieces[:-1]) == line.decode().replace(SECRET, "***")


def test_whole_lines_with_their_own_stamps(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    stamps = [f"2024-05-01T12:00:00.{n:03d}Z".encode() for n in range(len(LINES))]
    with LogWriter(log, {"T": SECRET}) as out:
        out.write(b"unfinished ", stamp=STAMP)
        out.write_lines(stamps, [line + b"\n" for line in LINES])
        out.write_lines(stamps[:1], [b"clean\n"])

    got = log.read_bytes().split(b"\n")[:-1]
    masker = Masker.of_secrets({"T": SECRET})
    assert got[0] == stamps[0] + b" unfinished " + LINES[0]
    pairs = zip(stamps, LINES, strict=True)
    assert got[1:-1] == [s + b" " + masker.hide_bytes(t) for s, t in pairs][1:]
    assert got[-1] == stamps[0] + b" clean"


def test_stderr_does_not_end_an_unfinished_stdout_line(tmp_path: Path) -> None:
    with writer(tmp_path / "n.log") as out:
        out.write(b"no newline yet", stream=1)
        out.write(b"an error\n", stream=2)
        out.write(b", now\n", stream=1)
        out.write(b"stdout to the end", stream=1)
        out.write(b"stderr to the end", stream=2)

    assert written(tmp_path / "n.log") == [
        "an error",
        "no newline yet, now",
        "stdout to the end",
        "stderr to the end",
    ]


def test_the_cut_falls_on_a_line_inside_a_chunk(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    line_bytes = len(f"{STAMP} line 0\n")
    with LogWriter(log, clock=lambda: STAMP, limit_bytes=3 * line_bytes + 2) as out:
        out.write(b"".join(b"line %d\n" % n for n in range(10)))
        out.write_lines([STAMP.encode()], [b"dropped\n"])
        out.note("ended")

    assert written(log) == [
        "line 0",
        "line 1",
        "line 2",
        "[ci-bot] the log was cut at 98 (CI_BOT_LOG_LIMIT); later output is dropped",
        "[ci-bot] ended",
    ]
