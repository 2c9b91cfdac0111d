"""What the broker says about the scaled-out bot, for ``/metrics``: the tasks waiting
in each queue (``ci-bot``, and one per set of ``runs_on`` labels), and how many
workers answer a ping.

The monitor is a Celery app of its own, not the one the engine sends tasks with, so
a scrape never holds or spoils the engine's connections. Each look opens one
connection and tries it once: a broker that is down makes ``up`` false at once
instead of a scrape that hangs while kombu retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from celery import Celery

from ci_bot.settings import Settings
from ci_bot.workers.app import DEFAULT_QUEUE, transport_options

logger = logging.getLogger(__name__)

PING_SECONDS = 1.0  # a scrape waits this long for workers' pongs
CONNECT_SECONDS = 2.0


@dataclass(frozen=True)
class BrokerView:
    up: bool
    queues: dict[str, int] = field(default_factory=dict)  # waiting tasks by queue
    workers: int = 0  # workers that answered the ping


class BrokerMonitor:
    def __init__(self, settings: Settings) -> None:
        self.app = Celery("ci_bot_monitor", set_as_current=False)
        self.app.conf.update(
            broker_url=settings.broker_url,
            broker_transport_options={
                **transport_options(settings.visibility_timeout),
                "socket_connect_timeout": CONNECT_SECONDS,
                "socket_timeout": CONNECT_SECONDS,
            },
            broker_connection_timeout=CONNECT_SECONDS,
            broker_connection_max_retries=1,
        )

    def look(self) -> BrokerView:
        try:
            with self.app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=0)
                queues = queue_depths(connection.default_channel)
                pongs = self.app.control.ping(timeout=PING_SECONDS, connection=connection)
        except Exception as error:  # kombu's, redis's and the socket's errors alike
            logger.warning("the broker did not answer the metrics' questions: %s", error)
            return BrokerView(up=False)
        return BrokerView(up=True, queues=queues, workers=len(pongs))

    def close(self) -> None:
        self.app.close()


def queue_depths(channel: Any) -> dict[str, int]:
    """Tasks waiting in the bot's default queue and in every label queue the broker
    has seen declared (the Redis transport keeps a binding per queue)."""
    names = {DEFAULT_QUEUE} | _declared_queues(channel)
    depths = {}
    for name in sorted(names):
        try:
            depths[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
        except Exception:  # kombu's NOT_FOUND: Redis drops an empty list's key
            depths[name] = 0
    return depths


def _declared_queues(channel: Any) -> set[str]:
    client = getattr(channel, "client", None)  # Redis: ``_kombu.binding.<exchange>`` sets
    if client is None:
        return set()
    prefix = channel.keyprefix_queue % ""
    found: set[str] = set()
    for key in client.scan_iter(match=f"{prefix}{DEFAULT_QUEUE}*"):
        exchange = (key.decode() if isinstance(key, bytes) else str(key)).removeprefix(prefix)
        found.update(queue for _, _, queue in channel.get_table(exchange))
    return {name for name in found if name == DEFAULT_QUEUE or name.startswith(f"{DEFAULT_QUEUE}@")}
