"""``GET /healthz`` (is the bot able to work?) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from ci_bot.web.metrics import metrics_text

blueprint = Blueprint("health", __name__)
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"  # what every Prometheus reads


@blueprint.get("/healthz")
def healthz() -> Response:
    services = current_app.extensions["ci_bot"]
    try:
        with services.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # the database is the one thing we cannot work without
        response = jsonify(ok=False, database=f"unreachable: {type(error).__name__}")
        response.status_code = 503
        return response
    return jsonify(ok=True, database="ok")


@blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus text (``metrics.py``); like the API, it wants a token (``auth.py``)."""
    text = metrics_text(current_app, current_app.extensions["ci_bot"])
    return Response(text, content_type=TEXT_FORMAT)
