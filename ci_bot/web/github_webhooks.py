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

A POST reaches the handler straight from WSGI (``short_way``, which ``create_app``
puts in front of Flask): Flask's request context, URL matching, before/after
hooks and response object cost about 0.35 ms a request, over a third of the handler's
own time, and give a webhook nothing (it needs no session, user or template).
The Flask route stays for the URL map (a GET gets its 405 as before).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from flask import Blueprint, Response, current_app, request
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_content_length, get_input_stream

from ci_bot.errors import WebhookError
from ci_bot.github.dispatch import JOB
from ci_bot.github.events import Ignored, route
from ci_bot.services import Services
from ci_bot.text import printable
from ci_bot.web import bodies

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

blueprint = Blueprint("github_webhooks", __name__)

PATH = "/webhooks/github"
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


@blueprint.post(PATH)
def receive() -> Response:
    """The same handler through Flask (for an app used without ``short_way``)."""
    status, body = answer(current_app.extensions["ci_bot"], request.environ)
    return Response(body, status=status, mimetype="application/json")


def short_way(services: Services, flask_app: WSGIApplication) -> WSGIApplication:
    """A WSGI app that answers ``POST /webhooks/github`` itself, the rest through Flask."""

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return flask_app(environ, start_response)
        status, body = answer(services, environ)
        line = f"{status} {HTTPStatus(status).phrase}"
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response(line, headers)
        return [body]

    return wsgi


def answer(services: Services, environ: WSGIEnvironment) -> tuple[int, bytes]:
    """The status and JSON body for one delivery; never raises (an unexpected error is
    logged and answered 500 without details, as the app answers any other)."""
    try:
        with services.queue.foreground.request():  # the queue's workers give way meanwhile
            status, body = _receive(services, environ)
    except Exception:
        logger.exception("unhandled error")
        status, body = 500, {"error": "internal error; it has been logged"}
    return status, json.dumps(body).encode()


def _receive(services: Services, environ: WSGIEnvironment) -> tuple[int, dict[str, Any]]:
    delivery = environ.get("HTTP_X_GITHUB_DELIVERY", "").strip()
    event = environ.get("HTTP_X_GITHUB_EVENT", "").strip()
    try:
        raw = _signed_body(services, environ)
        payload, text = _parse(raw, parse_options_header(environ.get("CONTENT_TYPE"))[0])
        if not event or not delivery or len(delivery) > 100 or not delivery.isprintable():
            raise WebhookError("X-GitHub-Event and X-GitHub-Delivery headers are required")
        work = route(event, payload, local_clones=services.settings.allow_local_clones)
    except WebhookError as error:
        # the headers are the sender's words: shown, never obeyed, by a terminal reading the log
        shown = printable(delivery[:100]) or "-", printable(event[:60]) or "-"
        logger.info("refused GitHub delivery %s (%s): %s", *shown, error)
        return error.status, {"error": str(error)}
    if isinstance(work, Ignored):
        logger.info("GitHub delivery %s (%s): ignored, %s", delivery, event, work.reason)
        return 200, {"delivery": delivery, "ignored": work.reason}
    if not services.store.record_delivery(delivery, "github", event, text):
        if services.store.delivery(delivery).status != "failed":
            logger.info("GitHub delivery %s (%s): a redelivery, ignored", delivery, event)
            return 200, {"delivery": delivery, "duplicate": True}
        # GitHub's "Redeliver" reuses the id: a delivery that failed (git unreachable,
        # GitHub down) is worth another try; one that was handled is not.
        services.store.finish_delivery(delivery, "received", "redelivered after a failure")
    services.queue.submit(JOB, lane=work.repo.full_name, delivery=delivery)
    logger.info("GitHub delivery %s (%s): queued", delivery, event)
    return 202, {"delivery": delivery, "queued": type(work).__name__}


def _signed_body(services: Services, environ: WSGIEnvironment) -> bytes:
    """The raw body, once its signature matched; everything that needs no body first."""
    length = get_content_length(environ)
    bodies.check_length(length, MAX_BODY_BYTES)
    header = environ.get("HTTP_X_HUB_SIGNATURE_256", "")
    secret = services.settings.github_webhook_secret
    if not secret and not services.settings.allow_unsigned_webhooks:
        raise WebhookError("webhooks are refused: no webhook secret is configured", 401)
    if secret and not header.startswith("sha256="):
        raise WebhookError("missing X-Hub-Signature-256 signature", 401)
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    body = bodies.read_signed(get_input_stream(environ), length, MAX_BODY_BYTES, mac)
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
