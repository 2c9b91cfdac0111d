"""The Celery app both sides share, configured from the bot's settings.

Late acknowledgement with ``reject_on_worker_lost``: a task is taken off the
broker only when it ended, so a worker killed mid-node leaves it to be delivered
again (after the broker's visibility timeout) to a worker that is alive. One task
at a time per worker slot (prefetch 1), so a busy worker holds nothing back.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

from celery import Celery

from ci_bot.settings import Settings

DEFAULT_QUEUE = "ci-bot"
app = Celery("ci_bot", include=["ci_bot.workers.tasks"])


def configure(settings: Settings) -> Celery:
    """The app, pointed at the settings' broker (which also keeps the results)."""
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.broker_url,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport_options(settings.visibility_timeout),
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout},
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=DEFAULT_QUEUE,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        result_expires=7 * 24 * 3600,
        task_track_started=True,
    )
    return app


def transport_options(visibility_timeout: int) -> dict[str, int]:
    """Redis hands an unacknowledged task to another worker ``visibility_timeout``
    seconds after it was delivered; kombu looks for such tasks every
    ``unacked_restore_interval`` (a tenth of a minute by default, scanning Redis one
    time in ten): looking every quarter of the timeout, scanning each time, keeps a
    lost worker's tasks from waiting much longer than the timeout itself."""
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": max(1, visibility_timeout // 4),
        "unacked_restore_throttle": 1,
    }


def queue_for(labels: Iterable[str]) -> str:
    """The queue of Execs that need exactly these labels (``runs_on``)."""
    wanted = sorted(set(labels))
    return DEFAULT_QUEUE if not wanted else f"{DEFAULT_QUEUE}@{'+'.join(wanted)}"


def queues_of(labels: Iterable[str]) -> list[str]:
    """Every queue a worker with ``labels`` serves: one per subset of them, so a node
    asking for some of a worker's labels runs there, one asking for more does not."""
    have = sorted(set(labels))
    return [
        queue_for(subset) for size in range(len(have) + 1) for subset in combinations(have, size)
    ]
