"""How an execution's end becomes a state and a sentence (no Docker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from requests.exceptions import ConnectionError as RequestsConnectionError

from ci_bot.executors import outcomes
from ci_bot.executors.base import ExecSpec
from ci_bot.executors.follow import format_ns, parse_docker_ns
from ci_bot.executors.images import BUSYBOX_IMAGE, DEBIAN_PYTHON_IMAGE, missing_image_message

SPEC = ExecSpec(
    pipeline_id="p",
    node_path="/build",
    execution_id="e",
    image=BUSYBOX_IMAGE,
    command="true",
    source_dir=Path("/src"),
    data_dir=Path("/data"),
    cache_dir=Path("/cache"),
    log_path=Path("/n.log"),
    timeout_seconds=1200,
    mem_bytes=64 * 2**20,
)


@pytest.mark.parametrize(
    ("flags", "exit_code", "state", "message"),
    [
        ((False, False, False), 0, "done", ""),
        ((True, True, True), 0, "done", ""),  # it finished before the kill landed
        ((True, True, True), 137, "cancelled", "cancelled"),
        ((False, True, True), 137, "error", "timed out after 20m"),
        (
            (False, False, True),
            137,
            "error",
            "ran out of memory (limit 64m); raise `mem` for this node",
        ),
        ((False, False, False), 2, "error", "exited with code 2"),
    ],
)
def test_ended(flags: tuple[bool, bool, bool], exit_code: int, state: str, message: str) -> None:
    result = outcomes.ended(SPEC, "c1", exit_code, *flags)

    assert (result.state, result.exit_code, result.message) == (state, exit_code, message)


@pytest.mark.parametrize(
    ("size", "text"),
    [(16 * 2**20, "16m"), (2 * 2**30, "2g"), (512 * 1024, "512k"), (1000, "1000b")],
)
def test_format_bytes(size: int, text: str) -> None:
    assert outcomes.format_bytes(size) == text


def test_missing_image_messages_say_how_to_get_it() -> None:
    for ours in (BUSYBOX_IMAGE, DEBIAN_PYTHON_IMAGE):
        assert "make images" in missing_image_message(ours)
        assert "scripts/build-images.sh" in missing_image_message(ours)
    other = missing_image_message("python:3.12-slim")
    assert other.startswith("image python:3.12-slim is missing")
    assert "docker pull python:3.12-slim" in other


def test_unreachable_engine_names_the_url_and_the_os_reason() -> None:
    cause = RequestsConnectionError(FileNotFoundError(2, "No such file or directory"))
    wrapped = RuntimeError("Error while fetching server API version")
    wrapped.__cause__ = cause

    message = outcomes.engine_failure("unix:///x.sock", wrapped)

    assert message.startswith(
        "the Docker engine at unix:///x.sock could not be reached (No such file or directory); "
    )


def test_docker_timestamps_round_trip_to_milliseconds() -> None:
    stamp_ns = parse_docker_ns(b"2024-05-01T12:00:00.123456789Z")

    assert stamp_ns == 1714564800 * 10**9 + 123456789
    assert format_ns(stamp_ns) == "2024-05-01T12:00:00.123Z"
    assert parse_docker_ns(b"not-a-stamp") is None
