"""How many threads a ``serve`` process runs, from the machine's cores: HTTP threads,
queue workers, and the database connections they share (one pool sized to them all).

Kept apart from the modules that use it so the store can size its pool without
importing the web server.
"""

from __future__ import annotations

import os


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def http_threads() -> int:
    """WSGI threads: a request is mostly Python under the GIL, waiting only on its one
    insert, so a few threads per core keep every core busy; more would only queue."""
    return min(32, max(8, 4 * cores()))


def queue_workers() -> int:
    """Queue workers: delivery handling waits on git subprocesses, so two per core
    overlap one repository's git with another's Python."""
    return min(8, max(2, 2 * cores()))


def pool_size() -> int:
    """Pooled database connections: every HTTP thread and queue worker at once, plus the
    engine, the reporters and the background threads, so none opens a connection anew."""
    return http_threads() + queue_workers() + 4
