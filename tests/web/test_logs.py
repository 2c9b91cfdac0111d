"""Reading logs for the UI: whole lines only, tails that start on a line, and never a
file outside the data directory."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ci_bot.settings import Settings
from ci_bot.store.records import Execution
from ci_bot.tree.states import State
from ci_bot.web.ui.logs import log_file, read_from, read_tail


def execution(log_path: str) -> Execution:
    now = datetime(2026, 1, 1)
    return Execution(1, 1, "/a", 1, State.DONE, 0, "", log_path, None, None, False, now, now, now)


def test_the_tail_starts_on_a_whole_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(b"line %03d\n" % n for n in range(100)))  # 9 bytes a line
    chunk = read_tail(log, max_bytes=50)
    assert chunk.lines == [f"line {n:03d}" for n in range(95, 100)]
    assert chunk.truncated and chunk.start == 95 * 9 and chunk.end == chunk.size == 900
    whole = read_tail(log, max_bytes=10_000)
    assert not whole.truncated and len(whole.lines) == 100


def test_reading_on_waits_for_the_end_of_a_line_while_it_runs(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"one\ntwo\nthr")
    running = read_from(log, 0, whole_lines=True)
    assert running.lines == ["one", "two"] and running.end == 8
    assert read_from(log, running.end, whole_lines=True).lines == []
    assert read_from(log, running.end, whole_lines=False).lines == ["thr"]
    assert read_from(log, 10_000, whole_lines=True).end == log.stat().st_size
    assert read_from(tmp_path / "not-yet.log", 0, whole_lines=True).lines == []


def test_a_carriage_return_stays_inside_its_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes("10%\r50%\r100%\nné\n".encode())
    assert read_tail(log).lines == ["10%\r50%\r100%", "né"]


def test_only_files_inside_the_data_dir_are_read(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    inside = settings.data_dir / "pipelines" / "1" / "logs" / "1.log"
    assert log_file(settings, execution(str(inside))) == inside
    for outside in ("/etc/passwd", str(settings.data_dir / ".." / "elsewhere.log"), ""):
        assert log_file(settings, execution(outside)) is None, outside
    link = settings.data_dir / "link.log"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to("/etc/passwd")
    assert log_file(settings, execution(str(link))) is None
