"""The Flask app factory: webhooks, health and metrics, the UI and the JSON API.

Each part is a blueprint in its own module; ``create_app`` wires them to one
``Services``.  No request does git, Docker or GitHub work inline: handlers
store, enqueue and answer.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ci_bot.services import Services
from ci_bot.web import badges, github_webhooks, health
from ci_bot.web.slack_interactions import blueprint as slack_blueprint
from ci_bot.web.ui.blueprint import blueprint as ui_blueprint

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 26 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


def create_app(services: Services) -> Flask:
    app = Flask("ci_bot")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["ci_bot"] = services
    app.register_blueprint(health.blueprint)
    app.register_blueprint(github_webhooks.blueprint)
    app.register_blueprint(slack_blueprint)
    app.register_blueprint(badges.blueprint)  # before the UI: its public badges skip sign-in
    app.register_blueprint(ui_blueprint)
    app.register_error_handler(Exception, _error_response)
    # webhooks skip Flask (it costs them a third of their time and gives them nothing)
    app.wsgi_app = github_webhooks.short_way(services, app.wsgi_app)  # type: ignore[method-assign,assignment]
    return app


def services_of(app: Flask) -> Services:
    services: Services = app.extensions["ci_bot"]
    return services


def _error_response(error: Exception) -> Any:
    """HTTP errors as short JSON; anything else is logged and answered 500 without details."""
    if isinstance(error, HTTPException):
        return jsonify(error=error.description), error.code
    logger.exception("unhandled error")
    return jsonify(error="internal error; it has been logged"), 500
