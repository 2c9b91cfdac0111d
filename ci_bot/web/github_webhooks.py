"""``POST /webhooks/github``: verify, parse, store, enqueue, answer — nothing slower.

The HMAC is checked over the raw body before anything parses it (and before
Flask may touch ``request.form``, which would consume the body).  The delivery
is stored under its ``X-GitHub-Delivery`` id, so a redelivery is answered 200
and does nothing; the work itself (git, Docker, GitHub calls) happens in a
queue worker, so this handler's time does not depend on the repository.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint, Response, current_app, jsonify, request

from ci_bot.errors import WebhookError
from ci_bot.github.dispatch import JOB
from ci_bot.github.events import Ignored, route
from ci_bot.services import Services

logger = logging.getLogger(__name__)

blueprint = Blueprint("github_webhooks", __name__)


@blueprint.post("/webhooks/github")
def receive() -> tuple[Response, int]:
    services: Services = current_app.extensions["ci_bot"]
    raw = request.get_data(cache=True)  # first: the signature is over these exact bytes
    delivery = request.headers.get("X-GitHub-Delivery", "").strip()
    event = request.headers.get("X-GitHub-Event", "").strip()
    try:
        _verify(services, raw, request.headers.get("X-Hub-Signature-256", ""))
        payload = _parse(raw, request.mimetype)
        if not event or not delivery or len(delivery) > 100:
            raise WebhookError("X-GitHub-Event and X-GitHub-Delivery headers are required")
        work = route(event, payload)
    except WebhookError as error:
        logger.info("refused GitHub delivery %s (%s): %s", delivery or "-", event or "-", error)
        return jsonify(error=str(error)), error.status
    if isinstance(work, Ignored):
        logger.info("GitHub delivery %s (%s): ignored, %s", delivery, event, work.reason)
        return jsonify(delivery=delivery, ignored=work.reason), 200
    text = json.dumps(payload, separators=(",", ":"))
    if not services.store.record_delivery(delivery, "github", event, text):
        if services.store.delivery(delivery).status != "failed":
            logger.info("GitHub delivery %s (%s): a redelivery, ignored", delivery, event)
            return jsonify(delivery=delivery, duplicate=True), 200
        # GitHub's "Redeliver" reuses the id: a delivery that failed (git unreachable,
        # GitHub down) is worth another try; one that was handled is not.
        services.store.finish_delivery(delivery, "received", "redelivered after a failure")
    services.queue.submit(JOB, delivery=delivery)
    logger.info("GitHub delivery %s (%s): queued", delivery, event)
    return jsonify(delivery=delivery, queued=type(work).__name__), 202


def _verify(services: Services, raw: bytes, header: str) -> None:
    secret = services.settings.github_webhook_secret
    if not secret:
        if services.settings.allow_unsigned_webhooks:
            return
        raise WebhookError("webhooks are refused: no webhook secret is configured", 401)
    if not header.startswith("sha256="):
        raise WebhookError("missing X-Hub-Signature-256 signature", 401)
    expected = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, header.removeprefix("sha256=").strip()):
        raise WebhookError("the X-Hub-Signature-256 signature does not match", 401)


def _parse(raw: bytes, mimetype: str) -> dict[str, Any]:
    if mimetype == "application/x-www-form-urlencoded":
        fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        if "payload" not in fields:
            raise WebhookError("a form-encoded delivery needs a payload= field")
        text = fields["payload"][0]
    elif mimetype in ("application/json", ""):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookError("the body is not UTF-8") from None
    else:
        raise WebhookError(f"unsupported content type {mimetype!r}; use application/json")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise WebhookError(f"the body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise WebhookError("the payload must be a JSON object")
    return payload
