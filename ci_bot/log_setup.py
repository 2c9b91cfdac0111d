"""How ``ci-bot serve`` logs: one line per event to stderr, written by a thread of its own.

A burst of webhooks logs a line per delivery from each of the server's threads.  Written
where it happens, every line takes the handler's lock and a write to stderr, and the
request threads queue behind each other for it (a fifth of a request's time in a burst
of 2 000).  Here a request only hands its record to a queue; one listener thread writes.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_in_background(level: int = logging.INFO) -> logging.handlers.QueueListener:
    """Route the root logger through a queue to stderr; the listener, already started.
    Stopping it (done at exit too) writes every line still queued."""
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(logging.handlers.QueueHandler(records))
    root.setLevel(level)
    listener = logging.handlers.QueueListener(records, stderr, respect_handler_level=True)
    listener.start()
    atexit.register(stop_quietly, listener)
    return listener


def stop_quietly(listener: logging.handlers.QueueListener) -> None:
    """Stop ``listener`` once: every queued line written (a second stop does nothing)."""
    if listener._thread is not None:  # stopped already
        listener.stop()
