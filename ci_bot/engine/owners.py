"""Whether the engine holding a pipeline's lease is alive.

An engine names itself ``host:pid:random`` when it takes a lease.  One on this host
whose process is gone can be replaced at once; one elsewhere only when its lease
expires.  ``ci-bot cancel`` asks this without loading the engine itself.

A process that ended but was not yet reaped by its parent (a zombie) still answers
``kill(pid, 0)``; it runs nothing, so it counts as gone.
"""

from __future__ import annotations

import os
import socket


def owner_is_dead(owner: str) -> bool:
    """An owner on this host whose process is gone can be replaced at once."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid_text))


def _is_zombie(pid: int) -> bool:
    """Whether ``pid`` ended and only waits to be reaped (Linux's /proc; elsewhere no)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # "pid (command) state ...": the command may hold spaces and parentheses
            state = stat.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return False
    return state == [b"Z"]
