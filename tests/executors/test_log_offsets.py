"""The log's counts of committed output (``<log>.offsets``), without Docker: what a
re-attached engine skips of each stream must be exactly what the log holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from docker.models.containers import Container

from ci_bot.executors.follow import keeps_all_output
from ci_bot.executors.logs import STDERR, STDOUT, LogWriter
from ci_bot.executors.offsets import Offsets, OffsetsFile, offsets_path, read_offsets
from ci_bot.executors.sidecars import service_log_path
from ci_bot.web.ui.nodes import service_logs

STAMP = "2024-05-01T12:00:00.000Z"


def writer(path: Path, **options: object) -> LogWriter:
    return LogWriter(path, clock=lambda: STAMP, **options)  # type: ignore[arg-type]


def test_no_counts_until_the_output_is_counted(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    with writer(log) as out:
        out.write(b"a build's line\n")  # ci-bot's own, before the container
        assert read_offsets(log) is None
        out.count_output()
        assert read_offsets(log) == Offsets(0, 0)
        out.write(b"out\n")
        out.write(b"err\n", stream=STDERR)

    assert read_offsets(log) == Offsets(4, 4)


def test_an_unfinished_line_is_not_committed_until_it_is_written(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    out = writer(log)
    out.count_output()
    out.write(b"one\ntw", stream=STDOUT)
    out.write(b"e", stream=STDERR)
    assert read_offsets(log) == Offsets(4, 0)  # "tw" and "e" wait for their newlines
    out.write(b"o\nthr", stream=STDOUT)
    assert read_offsets(log) == Offsets(8, 0)
    out.close()  # the unfinished lines are written: now they count

    assert read_offsets(log) == Offsets(11, 1)


def test_a_note_writes_the_unfinished_lines_and_they_count(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    out = writer(log)
    out.count_output()
    out.write(b"half")
    out.note("a service said something")

    assert read_offsets(log) == Offsets(4, 0)
    out.close()


def test_pieces_of_a_long_line_count_as_they_are_written(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    out = writer(log, piece_bytes=10)
    out.count_output()
    out.write(b"x" * 25)

    assert read_offsets(log) == Offsets(20, 0)  # two pieces on disk, five bytes held
    out.close()


def test_counts_are_of_the_output_not_of_the_masked_text(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    out = LogWriter(log, {"TOKEN": "hunter22-long-secret"}, clock=lambda: STAMP)
    out.count_output()
    out.write(b"pw=hunter22-long-secret\n")
    out.write(b"hunter22-lo")  # a secret split across chunks: held whole

    assert read_offsets(log) == Offsets(24, 0)
    assert log.read_bytes() == f"{STAMP} pw=***\n".encode()
    out.close()


def test_output_dropped_past_the_limit_counts_as_committed(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    with LogWriter(log, clock=lambda: STAMP, limit_bytes=60) as out:
        out.count_output()
        out.write(b"".join(b"line %d\n" % n for n in range(10)))
        out.write_lines([STAMP.encode()], [b"dropped too\n"])

    assert read_offsets(log) == Offsets(70 + 12, 0)
    assert "later output is dropped" in log.read_text()


def test_whole_lines_of_either_stream_count(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    stamps = [STAMP.encode()] * 2
    with writer(log) as out:
        out.count_output()
        out.write(b"unfinished ", stream=STDERR)
        out.write_lines(stamps, [b"end\n", b"next\n"], stream=STDERR)
        out.write_lines(stamps, [b"a\n", b"b\n"])

    assert read_offsets(log) == Offsets(4, 20)
    assert log.read_text().splitlines() == [
        f"{STAMP} unfinished end",
        f"{STAMP} next",
        f"{STAMP} a",
        f"{STAMP} b",
    ]


def test_a_re_attached_writer_counts_on_from_what_was_committed(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    with writer(log) as out:
        out.count_output(Offsets(100, 7))
        out.write(b"more\n")

    assert read_offsets(log) == Offsets(105, 7)


@pytest.mark.parametrize(
    "content", [b"", b"garbage\n", b"stdout 1 stderr 2\n", Offsets(1, 2).record()[:-3]]
)
def test_unreadable_counts_are_none(tmp_path: Path, content: bytes) -> None:
    log = tmp_path / "n.log"
    offsets_path(log).write_bytes(content)

    assert read_offsets(log) is None


def test_counts_are_replaced_in_place(tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    counts = OffsetsFile(log)
    counts.store(12345678901, 2)
    counts.store(3, 4)
    counts.close()

    assert offsets_path(log).name == "n.log.offsets"
    assert read_offsets(log) == Offsets(3, 4)
    assert offsets_path(log).stat().st_size == len(Offsets(3, 4).record())


def test_the_counts_are_no_service_log_of_the_node(tmp_path: Path) -> None:
    log = tmp_path / "12.log"
    with writer(log) as out:
        out.count_output()
        out.write(b"x\n")
    LogWriter(service_log_path(log, "db")).close()

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "12.db.log",
        "12.log",
        "12.log.offsets",
    ]
    assert service_logs(log) == ["db"]  # what the web UI lists beside the node's log


@pytest.mark.parametrize(
    ("log_config", "exact"),
    [
        ({"Type": "json-file", "Config": {}}, True),
        ({"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}, False),
        ({"Type": "local", "Config": {}}, False),  # rotates by default
        ({"Type": "journald", "Config": {}}, False),
        (None, False),
    ],
)
def test_counts_are_used_only_where_dockers_logs_keep_all_output(
    log_config: dict[str, object] | None, exact: bool
) -> None:
    container = Container(attrs={"Id": "c1", "HostConfig": {"LogConfig": log_config}})

    assert keeps_all_output(container) is exact
