"""Containers with least privilege: dropped capabilities, no new privileges, a pids limit
that stops a fork bomb, a memory limit that stops a hog, and a log that is cut, not
grown without end. Each ends its own node and nothing else."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ci_bot.engine.context import resource_limits
from ci_bot.executors.base import ExecResult
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.logs import LogWriter
from ci_bot.settings import Settings
from ci_bot.tree.nodes import Resolved
from tests.executors.support import MakeSpec

FORK_BOMB = "while true; do sleep 30 & done"


@pytest.mark.docker
def test_a_container_has_no_raw_sockets_device_nodes_or_new_privileges(
    executor: DockerExecutor, make_spec: MakeSpec
) -> None:
    spec = make_spec(
        "grep NoNewPrivs /proc/self/status; "
        "mknod /tmp/null c 1 3 || echo no-mknod; "
        "ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1 || echo no-raw-socket; "
        "chown 65534 /tmp && echo chown-ok"
    )

    result = executor.run(spec)

    assert result.state == "done", result.message
    log = spec.log_path.read_text()
    assert "NoNewPrivs:\t1" in log
    assert "no-mknod" in log
    assert "no-raw-socket" in log
    assert "chown-ok" in log  # what ordinary builds need is still there


@pytest.mark.docker
def test_a_fork_bomb_ends_its_own_node_and_no_other(
    executor: DockerExecutor, make_spec: MakeSpec
) -> None:
    bomb = make_spec(FORK_BOMB, pids_limit=32, timeout_seconds=3, node_path="/bomb")
    neighbour = make_spec("sleep 1; echo neighbour-fine", node_path="/neighbour")
    results: dict[str, ExecResult] = {}
    threads = [
        threading.Thread(target=lambda s=s: results.__setitem__(s.node_path, executor.run(s)))
        for s in (bomb, neighbour)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results["/bomb"].state == "error"  # sh gives up when a fork fails, or the deadline
    assert results["/bomb"].message in ("exited with code 2", "timed out after 3s")
    assert "can't fork" in bomb.log_path.read_text()
    assert results["/neighbour"].state == "done"
    assert "neighbour-fine" in neighbour.log_path.read_text()


@pytest.mark.docker
def test_a_memory_hog_ends_its_node_with_a_sentence(
    executor: DockerExecutor, make_spec: MakeSpec
) -> None:
    spec = make_spec("head -c 300m /dev/zero | tail", mem_bytes=32 * 2**20)

    result = executor.run(spec)

    assert result.state == "error"
    assert result.message == "ran out of memory (limit 32m); raise `mem` for this node"


@pytest.mark.docker
def test_a_long_log_is_cut_with_a_note_and_the_node_runs_on(
    executor: DockerExecutor, make_spec: MakeSpec
) -> None:
    spec = make_spec("seq 1 20000; echo finished > /tmp/x; cat /tmp/x >&2", log_limit=4096)

    result = executor.run(spec)

    assert result.state == "done"
    lines = spec.log_path.read_text().splitlines()
    assert lines[-1].endswith(
        "[ci-bot] the log was cut at 4k (CI_BOT_LOG_LIMIT); later output is dropped"
    )
    assert len("\n".join(lines[:-1])) <= 4096
    assert not any(line.endswith(" 20000") for line in lines)


def test_the_cut_counts_what_a_reattached_node_wrote_before(tmp_path: Path) -> None:
    path = tmp_path / "n.log"
    with LogWriter(path, limit_bytes=100, clock=lambda: "T") as log:
        log.write(b"a" * 60 + b"\n")
    with LogWriter(path, limit_bytes=100, clock=lambda: "T") as log:
        log.write(b"b" * 60 + b"\n")
        log.note("ended")

    assert path.read_text().splitlines() == [
        "T " + "a" * 60,
        "T [ci-bot] the log was cut at 100 (CI_BOT_LOG_LIMIT); later output is dropped",
        "T [ci-bot] ended",
    ]


def test_a_log_cut_before_a_reattach_stays_cut_and_is_noted_once(tmp_path: Path) -> None:
    path = tmp_path / "n.log"
    with LogWriter(path, limit_bytes=100, clock=lambda: "T") as log:
        log.write(b"a" * 30 + b"\n")
        log.write(b"b" * 90 + b"\n")  # does not fit: the cut
        log.note("the bot stopped")
    with LogWriter(path, limit_bytes=100, clock=lambda: "T") as log:
        log.write(b"c" * 5 + b"\n")  # would fit under the limit, but comes after the cut
        log.note("ended")

    assert path.read_text().splitlines() == [
        "T " + "a" * 30,
        "T [ci-bot] the log was cut at 100 (CI_BOT_LOG_LIMIT); later output is dropped",
        "T [ci-bot] the bot stopped",
        "T [ci-bot] ended",
    ]


def resolved(**values: object) -> Resolved:
    return Resolved({**Resolved.defaults().values, **values})


def test_limits_default_to_the_operators_and_stay_under_the_maximum(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, max_mem=2**30, max_pids=256)

    assert resource_limits(settings, resolved()) == (2**30, 256)  # defaults capped
    assert resource_limits(settings, resolved(mem=2**29, pids=64)) == (2**29, 64)
    assert resource_limits(settings, resolved(mem=2**31)) == (
        "mem 2g is more than this bot allows (CI_BOT_MAX_MEM=1g)"
    )
    assert resource_limits(settings, resolved(pids=1000)) == (
        "pids 1000 is more than this bot allows (CI_BOT_MAX_PIDS=256)"
    )
    unlimited = Settings.from_env({}, data_dir=tmp_path)
    assert resource_limits(unlimited, resolved()) == (4 * 2**30, 1024)
