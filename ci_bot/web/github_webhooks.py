"""``POST /webhooks/github``: verify, parse, store, enqueue, answer — nothing slower.

The request does the HMAC, one parse, one insert (the JSON text as received, not
serialised again) and an enqueue in the repository's lane; no git, no network.

The HMAC is checked over the raw body before anything parses it (and before
Flask may touch ``request.form``, which would consume the body).  The body is
limited to GitHub's own 25 MB cap: a longer ``Content-Length`` is refused before
reading, and the rest is read in chunks through the HMAC (``bodies``), so an
unsigned body is never held in memory whole.  The delivery
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
from ci_bot.text import printable
from ci_bot.web import bodies

logger = logging.getLogger(__name__)

blueprint = Blueprint("github_webhooks", __name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


@blueprint.post("/webhooks/github")
def receive() -> tuple[Response, int]:
    services: Services = current_app.extensions["ci_bot"]
    with services.queue.foreground.request():  # the queue's workers give way meanwhile
        return _receive(services)


def _receive(services: Services) -> tuple[Response, int]:
    delivery = request.headers.get("X-GitHub-Delivery", "").strip()
    event = request.headers.get("X-GitHub-Event", "").strip()
    try:
        raw = _signed_body(services, request.headers.get("X-Hub-Signature-256", ""))
        payload, text = _parse(raw, request.mimetype)
        if not event or not delivery or len(delivery) > 100 or not delivery.isprintable():
            raise WebhookError("X-GitHub-Event and X-GitHub-Delivery headers are required")
        work = route(event, payload, local_clones=services.settings.allow_local_clones)
    except WebhookError as error:
        # the headers are the sender's words: shown, never obeyed, by a terminal reading the log
        shown = printable(delivery[:100]) or "-", printable(event[:60]) or "-"
        logger.info("refused GitHub delivery %s (%s): %s", *shown, error)
        return jsonify(error=str(error)), error.status
    if isinstance(work, Ignored):
        logger.info("GitHub delivery %s (%s): ignored, %s", delivery, event, work.reason)
        return _answer({"delivery": delivery, "ignored": work.reason}, 200)
    if not services.store.record_delivery(delivery, "github", event, text):
        if services.store.delivery(delivery).status != "failed":
            logger.info("GitHub delivery %s (%s): a redelivery, ignored", delivery, event)
            return _answer({"delivery": delivery, "duplicate": True}, 200)
        # GitHub's "Redeliver" reuses the id: a delivery that failed (git unreachable,
        # GitHub down) is worth another try; one that was handled is not.
        services.store.finish_delivery(delivery, "received", "redelivered after a failure")
    services.queue.submit(JOB, lane=work.repo.full_name, delivery=delivery)
    logger.info("GitHub delivery %s (%s): queued", delivery, event)
    return _answer({"delivery": delivery, "queued": type(work).__name__}, 202)


def _answer(body: dict[str, Any], status: int) -> tuple[Response, int]:
    """A short JSON answer: ``json.dumps`` straight into the response, which is what
    ``jsonify`` does after consulting the app's JSON provider and debug settings."""
    return Response(json.dumps(body), mimetype="application/json"), status


def _signed_body(services: Services, header: str) -> bytes:
    """The raw body, once its signature matched; everything that needs no body first."""
    bodies.check_length(request.content_length, MAX_BODY_BYTES)
    secret = services.settings.github_webhook_secret
    if not secret and not services.settings.allow_unsigned_webhooks:
        raise WebhookError("webhooks are refused: no webhook secret is configured", 401)
    if secret and not header.startswith("sha256="):
        raise WebhookError("missing X-Hub-Signature-256 signature", 401)
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    body = bodies.read_signed(request.stream, request.content_length, MAX_BODY_BYTES, mac)
    if secret and not bodies.same_digest(body.hexdigest, header.removeprefix("sha256=").strip()):
        body.discard()
        raise WebhookError("the X-Hub-Signature-256 signature does not match", 401)
    return body.read()


def _parse(raw: bytes, mimetype: str) -> tuple[dict[str, Any], str]:
    """The payload, and its JSON text as sent: what is stored (no second serialisation)."""
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
    return payload, text
