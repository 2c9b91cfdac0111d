"""``ci-bot worker``: a Celery worker that runs Execs on this host's Docker engine.

It needs the same broker (``CI_BOT_BROKER_URL``) and store (``CI_BOT_DATABASE_URL``,
PostgreSQL) as ``ci-bot serve``, and a data dir of its own.
"""

from __future__ import annotations

import os
import socket
import uuid

import click

from ci_bot.errors import CiBotError
from ci_bot.settings import Settings


@click.command()
@click.option("--name", default="", help="This worker's name (default: the host name).")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Execs run at once here (default: CI_BOT_MAX_PARALLEL, the cores).",
)
@click.option(
    "--labels",
    default="",
    help="Comma-separated labels this worker has (gpu,big): it runs nodes whose "
    "`runs_on` asks for some of them, and nodes that ask for none.",
)
def worker(name: str, concurrency: int | None, labels: str) -> None:
    """Run Execs for `ci-bot serve` on this host (scaled out, over CI_BOT_BROKER_URL)."""
    from ci_bot.executors.docker import DockerExecutor
    from ci_bot.executors.registry import load_registry_auth
    from ci_bot.store.store import Store
    from ci_bot.tree.params import read_labels
    from ci_bot.workers import tasks
    from ci_bot.workers.app import configure, queues_of
    from ci_bot.workers.datasync import DataSync

    try:
        settings = Settings.from_env()
        wanted = read_labels([label.strip() for label in labels.split(",") if label.strip()])
    except (CiBotError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    if not settings.broker_url:
        raise click.ClickException("set CI_BOT_BROKER_URL (redis://…), the broker serve uses")
    # A name per process: a worker restarted after a crash is not the one that held
    # the tasks it lost, so their redelivery is recognised as a lost worker.
    identity = f"{name or socket.gethostname()}#{uuid.uuid4().hex[:6]}"
    store = Store(settings.database_url)
    executor = DockerExecutor(
        base_url=settings.docker_url,
        allow_docker_socket=settings.allow_docker_socket,
        registry_auth=load_registry_auth(settings.registry_auth_file),
    )
    tasks.set_context(tasks.WorkerContext(identity, settings, store, executor, DataSync(store)))
    app = configure(settings)
    queues = queues_of(wanted)
    click.echo(f"worker {identity}: queues {', '.join(queues)}; data in {settings.data_dir}")
    app.Worker(
        hostname=f"{identity}@{socket.gethostname()}",
        queues=queues,
        pool="threads",
        concurrency=concurrency or settings.max_parallel,
        loglevel=os.environ.get("CI_BOT_WORKER_LOG_LEVEL", "INFO"),
    ).start()
