"""The WSGI server ``ci-bot serve`` runs the app on (waitress), made in one place so the
webhook benchmark measures the very configuration users get.

Threads default to the machine (``sizing.http_threads``); waitress reads and
buffers each request on its I/O thread, so the worker threads only run the app.
It writes no access log: each webhook logs one line of its own.  Its channels are
``QuietChannel`` (``waitress_channel``): waitress's own kept its I/O thread spinning
while a request thread sent an answer, which tripled a webhook's CPU in a burst.
"""

from __future__ import annotations

import logging
from typing import Any

from ci_bot.sizing import http_threads

IDENT = "ci-bot"


def server_options(threads: int | None = None) -> dict[str, Any]:
    """waitress options: ``threads`` app threads, poll() so more than 1 024 sockets work,
    a backlog that holds a burst of GitHub's deliveries while the threads are busy."""
    return {
        "threads": threads or http_threads(),
        "ident": IDENT,
        "asyncore_use_poll": True,
        "backlog": 2048,
        "connection_limit": 1000,
    }


def create_server(app: Any, host: str, port: int, threads: int | None = None) -> Any:
    """A waitress server for ``app`` bound to ``host:port`` (``run()`` serves; port 0
    picks a free one, ``effective_port`` says which)."""
    import waitress.server

    # waitress warns "Task queue depth is N" for every request that finds its threads
    # busy: during a burst of deliveries that is a line per request, written while the
    # burst is being answered.  A burst is normal for a webhook receiver; errors still show.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    from ci_bot.web.waitress_channel import QuietChannel

    server = waitress.server.create_server(app, host=host, port=port, **server_options(threads))
    # One listening server, or (a host name with several addresses) one per address,
    # gathered in a MultiSocketServer's map.
    listeners = [server] if hasattr(server, "channel_class") else list(server.map.values())
    for listener in listeners:
        if hasattr(listener, "channel_class"):
            listener.channel_class = QuietChannel
    return server
