"""Whether the engine named by a lease is alive (``engine/owners.py``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from ci_bot.engine.owners import owner_is_dead

HOST = socket.gethostname()


def test_this_process_is_alive_and_a_gone_one_is_dead() -> None:
    assert not owner_is_dead(f"{HOST}:{os.getpid()}:abcd1234")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid names no process now
    assert owner_is_dead(f"{HOST}:{child.pid}:abcd1234")


def test_an_engine_that_ended_but_was_not_reaped_is_dead() -> None:
    """``ci-bot run`` killed under a parent that has not waited for it yet."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, left unreaped
        assert owner_is_dead(f"{HOST}:{child.pid}:abcd1234")
    finally:
        child.wait()


def test_an_engine_on_another_host_is_left_to_its_lease() -> None:
    assert not owner_is_dead(f"not-{HOST}:1:abcd1234")
    assert not owner_is_dead(f"{HOST}:not-a-pid:abcd1234")
