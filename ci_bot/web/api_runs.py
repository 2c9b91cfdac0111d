"""Starting pipelines (docs/api.md): ``POST /api/pipelines`` runs a repository the bot
knows on a branch or commit, ``POST /api/pipelines/ID/rerun`` runs a pipeline again;
and the forms behind the pages' *Run* and *Rerun*, for browsers without JavaScript.

Running a repository by hand takes an operator token (a viewer only reads, and a
GitHub user acts through GitHub); rerunning a pipeline takes what resetting it takes.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WebResponse

from ci_bot.store.records import Pipeline
from ci_bot.web import auth
from ci_bot.web.api import auth_user, readable_pipeline
from ci_bot.web.ui import starts
from ci_bot.web.ui.state import services
from ci_bot.web.urls import pipeline_url

api = Blueprint("runs_api", __name__, url_prefix="/api")
pages = Blueprint("runs_pages", __name__)


@api.errorhandler(starts.StartRefused)
def _refused_json(error: starts.StartRefused) -> tuple[Response, int]:
    return jsonify(error=str(error)), error.status


@pages.errorhandler(starts.StartRefused)
def _refused_page(error: starts.StartRefused) -> tuple[str, int]:
    return render_template("error.html", code=error.status, message=str(error)), error.status


@api.post("/pipelines")
def run() -> tuple[Response, int]:
    user = _operator()
    body = request.get_json(silent=True) if request.is_json else None
    wanted = starts.run_from_body(services(), body, user.name)
    return _answer(starts.start(services(), wanted))


@api.post("/pipelines/<int:pipeline_id>/rerun")
def rerun(pipeline_id: int) -> tuple[Response, int]:
    return _answer(starts.rerun(services(), _writable(pipeline_id), auth_user().name), pipeline_id)


@pages.post("/pipelines/run")
def run_form() -> WebResponse:
    user = _operator()
    body = {key: request.form.get(key, "") for key in starts.BODY_KEYS}
    return _go_to(starts.start(services(), starts.run_from_body(services(), body, user.name)))


@pages.post("/pipelines/<int:pipeline_id>/rerun")
def rerun_form(pipeline_id: int) -> WebResponse:
    return _go_to(starts.rerun(services(), _writable(pipeline_id), auth_user().name))


def is_operator(user: auth.User) -> bool:
    """Whether ``user`` may run a repository by hand: an operator token's."""
    return user.kind == "token" and not user.is_viewer


def _operator() -> auth.User:
    user = auth_user()
    if not is_operator(user):
        abort(403, f"{user.name} may not start pipelines: that takes an operator token")
    return user


def _writable(pipeline_id: int) -> Pipeline:
    found = readable_pipeline(pipeline_id)
    user = auth_user()
    if not auth.can_write(user, found.repo):
        abort(403, f"{user.name} may not change pipelines of {found.repo}")
    return found


def _answer(started: starts.Started, rerun_of: int | None = None) -> tuple[Response, int]:
    """201 with the new pipeline; 202 with the delivery while it waits for its launch."""
    extra = {} if rerun_of is None else {"rerun_of": rerun_of}
    if started.pipeline_id is None:
        return jsonify(delivery=started.delivery, waiting=started.waiting, **extra), 202
    url = pipeline_url(services().settings, started.pipeline_id)
    response = jsonify(id=started.pipeline_id, url=url, **extra)
    response.headers["Location"] = url
    return response, 201


def _go_to(started: starts.Started) -> WebResponse:
    if started.pipeline_id is None:  # still being launched: the list shows it when it is
        return redirect(url_for("ui.pages.pipelines"))
    return redirect(url_for("ui.pages.pipeline", pipeline_id=started.pipeline_id))
