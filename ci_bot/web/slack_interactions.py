"""``POST /webhooks/slack/interactions``: the buttons under a pipeline's Slack message.

Verify the signature (and the age) on the raw body before reading anything,
parse, act, answer 200 well within Slack's three seconds.  "Rerun failed"
only writes the wish to the store (``control.rerun_failed``, with who clicked);
whichever engine drives the pipeline honours it within a tick, and the Slack
reporter tells the thread who asked.  A button counts only on the message the
bot posted for that very pipeline, in its channel: by default anyone who can
see that message may rerun.
"""

from __future__ import annotations

import hashlib
import logging
import time

from flask import Blueprint, Response, current_app, jsonify, request

from ci_bot.engine.control import rerun_failed
from ci_bot.errors import WebhookError
from ci_bot.services import Services
from ci_bot.store.store import NotFound
from integrations.slack import actions, record
from integrations.slack.blocks import OPEN_ACTION, RERUN_ACTION
from integrations.slack.verify import verify

logger = logging.getLogger(__name__)

blueprint = Blueprint("slack_interactions", __name__)


@blueprint.post("/webhooks/slack/interactions")
def interactions() -> tuple[Response, int]:
    services: Services = current_app.extensions["ci_bot"]
    secret = services.settings.slack_signing_secret
    if not secret:
        return _refuse("Slack interactions are off: set CI_BOT_SLACK_SIGNING_SECRET", 404)
    body = request.get_data(cache=True)  # the raw bytes Slack signed, before any parsing
    headers = request.headers
    try:
        verify(
            secret,
            body,
            headers.get("X-Slack-Request-Timestamp"),
            headers.get("X-Slack-Signature"),
            time.time(),
        )
        kind, clicks = actions.parse(body)
    except WebhookError as error:
        return _refuse(str(error), error.status)
    delivery = "slack:" + hashlib.sha256(headers["X-Slack-Signature"].encode()).hexdigest()
    if not services.store.record_delivery(delivery, "slack", kind[:60], body.decode("utf-8")):
        logger.info("Slack interaction %s seen already; ignored", delivery)
        return jsonify(ok=True, duplicate=True), 200
    try:
        outcome = "; ".join(_act(services, click) for click in clicks) or f"{kind}: ignored"
    except WebhookError as error:
        services.store.finish_delivery(delivery, "failed", str(error))
        return _refuse(str(error), error.status)
    services.store.finish_delivery(delivery, "handled", outcome)
    return jsonify(ok=True), 200


def _act(services: Services, click: actions.Click) -> str:
    """Do what the click asks; a sentence for the delivery's outcome."""
    if click.action_id == OPEN_ACTION:
        return "open: nothing to do (Slack opened the link)"
    if click.action_id != RERUN_ACTION:
        logger.warning("Slack interaction with unknown action %r ignored", click.action_id)
        return f"{click.action_id}: unknown action, ignored"
    pipeline_id = _pipeline_of(services, click)
    paths = rerun_failed(services.store, pipeline_id, click.actor)
    logger.info("pipeline %s: %s asked to rerun %s", pipeline_id, click.actor, paths or "nothing")
    services.engine.wake()
    if services.hub is not None:
        services.hub.wake()
    return f"rerun of pipeline {pipeline_id}: {len(paths)} Execs reset"


def _pipeline_of(services: Services, click: actions.Click) -> int:
    """The pipeline whose message holds the clicked button."""
    if not click.value.isascii() or not click.value.isdigit() or len(click.value) > 12:
        raise WebhookError(f"the button's value {click.value[:40]!r} is not a pipeline")
    pipeline_id = int(click.value)
    try:
        services.store.pipeline(pipeline_id)
    except NotFound:
        raise WebhookError(f"there is no pipeline {click.value}", 404) from None
    if record.message_of(services.store, pipeline_id) != (click.channel_id, click.message_ts):
        raise WebhookError(f"this button is not on pipeline {pipeline_id}'s Slack message", 403)
    return pipeline_id


def _refuse(message: str, status: int) -> tuple[Response, int]:
    logger.warning("Slack interaction refused (%d): %s", status, message)
    return jsonify(error=message), status
