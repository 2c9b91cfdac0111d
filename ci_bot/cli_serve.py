"""``ci-bot serve``: the web app on a production WSGI server, the engine beside it."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import click

from ci_bot.errors import CiBotError
from ci_bot.services import open_services
from ci_bot.settings import Settings

logger = logging.getLogger(__name__)


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on (0.0.0.0: every interface, for GitHub's webhooks).",
)
@click.option("--port", default=8080, show_default=True, type=int, help="The port to listen on.")
@click.option(
    "--threads",
    default=0,
    type=int,
    help="HTTP worker threads [default: 4 per core, 8 to 32].",
)
def serve(host: str, port: int, threads: int) -> None:
    """Receive webhooks, run pipelines, serve the UI."""
    from ci_bot.log_setup import log_in_background, stop_quietly
    from ci_bot.web.app import create_app
    from ci_bot.web.server import create_server

    logs = log_in_background()  # a burst's request threads do not queue on stderr
    try:
        settings = Settings.from_env()
    except CiBotError as error:
        raise click.ClickException(str(error)) from None
    if not settings.github_webhook_secret and not settings.allow_unsigned_webhooks:
        raise click.ClickException(
            "CI_BOT_GITHUB_WEBHOOK_SECRET is not set, so anyone could trigger builds. "
            "Set it to the webhook's secret, or CI_BOT_ALLOW_UNSIGNED_WEBHOOKS=true for local use."
        )
    services = open_services(settings)
    app = create_app(services)
    services.start()
    server = create_server(app, host, port, threads or None)
    logger.info("ci-bot serving on http://%s:%d (data in %s)", host, port, settings.data_dir)
    # SIGTERM (`docker stop`, systemd, Kubernetes) stops as Ctrl-C does: the engine hands
    # its leases back and the queue finishes its job, instead of dying mid-write.
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except _Stopped:
        logger.info("ci-bot stopping (SIGTERM)")
    finally:
        services.stop()
        stop_quietly(logs)  # every line still queued is written before the process ends


class _Stopped(Exception):
    """SIGTERM arrived: leave the server's loop and stop what runs beside it."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped
