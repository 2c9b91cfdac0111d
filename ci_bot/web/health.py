"""``GET /healthz`` (is the bot able to work?) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

blueprint = Blueprint("health", __name__)


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
    services = current_app.extensions["ci_bot"]
    counts: dict[str, int] = {}
    for pipeline in services.store.pipelines(limit=1000):
        counts[pipeline.state.value] = counts.get(pipeline.state.value, 0) + 1
    lines = [
        "# HELP ci_bot_pipelines Recent pipelines (last 1000) by state.",
        "# TYPE ci_bot_pipelines gauge",
        *(
            f'ci_bot_pipelines{{state="{state}"}} {count}'
            for state, count in sorted(counts.items())
        ),
        "# HELP ci_bot_executions_active Executions queued or running.",
        "# TYPE ci_bot_executions_active gauge",
        f"ci_bot_executions_active {len(services.store.active_executions())}",
    ]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
