"""``POST /webhooks/slack/interactions``: the buttons under a pipeline's Slack message.

Check the age first, then read the body in bounded chunks (``bodies``: never more
than ``MAX_BODY_BYTES``), verify it with ``slack_sdk``'s ``SignatureVerifier``
(``integrations/slack/verify.py``), parse, answer 200 well within Slack's three
seconds.  A button counts only on the message the bot posted for that very
pipeline, in its channel.  "Rerun failed" is then a queue job (``slack_reruns``):
the clicker must be mapped to a GitHub user (``CI_BOT_SLACK_USERS``) whom GitHub
lets push to the repository, or they are told why in a reply only they see, and
nothing is reset.
"""

from __future__ import annotations

import hashlib
import logging
import time

from flask import Blueprint, Response, current_app, jsonify, request

from ci_bot.errors import WebhookError
from ci_bot.services import Services
from ci_bot.slack_reruns import JOB, RerunClick
from ci_bot.store.store import NotFound
from ci_bot.web import bodies
from integrations.slack import actions, record, verify
from integrations.slack.blocks import OPEN_ACTION, RERUN_ACTION

logger = logging.getLogger(__name__)

blueprint = Blueprint("slack_interactions", __name__)

# Slack's payloads are a message and its blocks: far below this.
MAX_BODY_BYTES = 5 * 1024 * 1024


@blueprint.post("/webhooks/slack/interactions")
def interactions() -> tuple[Response, int]:
    services: Services = current_app.extensions["ci_bot"]
    secret = services.settings.slack_signing_secret
    if not secret:
        return _refuse("Slack interactions are off: set CI_BOT_SLACK_SIGNING_SECRET", 404)
    try:
        body, signature = _signed_body(secret)
        kind, clicks = actions.parse(body)
    except WebhookError as error:
        return _refuse(str(error), error.status)
    delivery = "slack:" + hashlib.sha256(signature.encode("utf-8", "replace")).hexdigest()
    if not services.store.record_delivery(delivery, "slack", kind[:60], body.decode("utf-8")):
        logger.info("Slack interaction %s seen already; ignored", delivery)
        return jsonify(ok=True, duplicate=True), 200
    try:
        done = [_act(services, click, delivery) for click in clicks]
    except WebhookError as error:
        services.store.finish_delivery(delivery, "failed", str(error))
        return _refuse(str(error), error.status)
    # a rerun's job records its own outcome once GitHub has said who may rerun
    status = "received" if any(outcome is None for outcome in done) else "handled"
    outcome = "; ".join(text or "rerun: checking who clicked" for text in done)
    services.store.finish_delivery(delivery, status, outcome or f"{kind}: ignored")
    return jsonify(ok=True), 200


def _signed_body(secret: str) -> tuple[bytes, str]:
    """(raw body, signature) of a fresh request Slack signed; 401 or 413 otherwise."""
    headers = request.headers
    bodies.check_length(request.content_length, MAX_BODY_BYTES)
    timestamp, given = verify.check_fresh(
        headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature"), time.time()
    )
    spooled = bodies.read_signed(request.stream, request.content_length, MAX_BODY_BYTES, None)
    body = spooled.read()  # whole: SignatureVerifier takes it so, at most MAX_BODY_BYTES
    verify.verify(secret, body, timestamp, given, time.time())
    return body, given


def _act(services: Services, click: actions.Click, delivery: str) -> str | None:
    """Do what the click asks: a sentence for the delivery's outcome, or None when a
    queued job will (a rerun)."""
    if click.action_id == OPEN_ACTION:
        return "open: nothing to do (Slack opened the link)"
    if click.action_id != RERUN_ACTION:
        logger.warning("Slack interaction with unknown action %r ignored", click.action_id[:60])
        return f"{click.action_id[:60]}: unknown action, ignored"
    pipeline_id = _pipeline_of(services, click)
    rerun = RerunClick(delivery, pipeline_id, click.user_id, click.actor, click.response_url)
    services.queue.submit(JOB, **rerun.job())
    logger.info("pipeline %s: %s asked to rerun; checking who may", pipeline_id, click.user_id)
    return None


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
