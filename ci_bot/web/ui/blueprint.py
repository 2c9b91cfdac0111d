"""The one blueprint the app factory registers for the UI: the pages, the JSON API,
sign-in, the templates and static files, and the guard on every request."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Flask, Response, url_for
from flask.sansio.blueprints import BlueprintSetupState

from ci_bot.store.views import iso_time
from ci_bot.web import api, api_artifacts, api_runs, auth
from ci_bot.web.ui import pages, signin, state, views

blueprint = Blueprint(
    "ui",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/ui-static",
)
blueprint.register_blueprint(signin.blueprint)
blueprint.register_blueprint(pages.blueprint)
blueprint.register_blueprint(api.blueprint)
blueprint.register_blueprint(api_artifacts.blueprint)
blueprint.register_blueprint(api_runs.api)
blueprint.register_blueprint(api_runs.pages)
blueprint.before_app_request(auth.gate)


@blueprint.record_once
def _setup(setup_state: BlueprintSetupState) -> None:
    state.setup(cast(Flask, setup_state.app))


# Pages load nothing but their own script and stylesheet, and no other site may frame them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@blueprint.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@blueprint.app_context_processor
def _template_globals() -> dict[str, object]:
    return {
        "current_user": auth.current_user(),
        "iso_time": iso_time,
        "icon": views.icon,
        "node_href": _node_href,
    }


def _node_href(pipeline_id: int, path: str) -> str:
    """The page of a node (``urls.node_url``'s scheme); the root's is the pipeline's."""
    if path == "/":
        return url_for("ui.pages.pipeline", pipeline_id=pipeline_id)
    return url_for("ui.pages.node", pipeline_id=pipeline_id, path=path.strip("/"))
