"""The JSON API under ``/api/``: everything the pages show and do (docs/api.md).

Read: the pipeline list (filters, pages, run and wall times, failed nodes), one
pipeline (``views.pipeline_json``), one node, its run events, an execution's log
(numbered tail, whole-line chunks from an offset, the whole file) and a live
stream.  Write: reset (with an optional new command), skip, unskip, cancel,
rerun-failed.  Artifacts are ``api_artifacts.py``'s; starting pipelines (a manual
run, a rerun) ``api_runs.py``'s.
Every error is a JSON ``{"error": sentence}`` with a 4xx status, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, send_file, url_for
from werkzeug.exceptions import HTTPException

from ci_bot.executors.sidecars import service_log_path
from ci_bot.store.listing import PipelineFilter, PipelinePage, list_pipelines, repositories
from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import NotFound
from ci_bot.store.views import iso_time, pipeline_header, pipeline_json
from ci_bot.tree.containers import SERVICE_NAME
from ci_bot.tree.states import State
from ci_bot.web import auth
from ci_bot.web.ui import stream
from ci_bot.web.ui.actions import ACTIONS, ActionRefused, perform
from ci_bot.web.ui.logs import (
    CHUNK_BYTES,
    MAX_CHUNK_BYTES,
    count_lines,
    log_file,
    read_from,
    read_tail,
)
from ci_bot.web.ui.nodes import find_node, node_json, service_logs
from ci_bot.web.ui.state import services, ui_state
from ci_bot.web.ui.timing import pipeline_times

logger = logging.getLogger(__name__)

blueprint = Blueprint("api", __name__, url_prefix="/api")

PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_ID = 2**63 - 1  # the largest integer SQL databases store


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    return jsonify(error=error.description), error.code or 500


@blueprint.errorhandler(NotFound)
def _not_found(error: NotFound) -> tuple[Response, int]:
    return jsonify(error=str(error)), 404


@blueprint.errorhandler(ActionRefused)
def _refused(error: ActionRefused) -> tuple[Response, int]:
    return jsonify(error=str(error)), 409


# --- reading -----------------------------------------------------------------------------


@blueprint.get("/pipelines")
def pipelines() -> Response:
    wanted, page, per_page = list_arguments(request.args.to_dict(), auth_user())
    found = list_pipelines(services().store, wanted, page, per_page)
    return jsonify(
        pipelines=[summary(p, found) for p in found.pipelines],
        page=page,
        per_page=per_page,
        total=found.total,
        state_totals=found.state_totals,
    )


@blueprint.get("/pipelines/<int:pipeline_id>")
def pipeline(pipeline_id: int) -> Response:
    readable_pipeline(pipeline_id)
    return jsonify(pipeline_json(services().store, pipeline_id))


@blueprint.get("/pipelines/<int:pipeline_id>/nodes/", defaults={"path": "/"})
@blueprint.get("/pipelines/<int:pipeline_id>/nodes/<path:path>")
def node(pipeline_id: int, path: str) -> Response:
    readable_pipeline(pipeline_id)
    return jsonify(node_json(services(), pipeline_id, path))


@blueprint.get("/pipelines/<int:pipeline_id>/events")
def events(pipeline_id: int) -> Response:
    readable_pipeline(pipeline_id)
    after = _int_arg("after", 0, minimum=0)
    found = services().store.events(pipeline_id, after=after)
    return jsonify(
        events=[
            {
                "id": e.id,
                "path": e.path,
                "kind": e.kind,
                "state": e.state,
                "message": e.message,
                "actor": e.actor,
                "created_at": iso_time(e.created_at),
            }
            for e in found
        ]
    )


@blueprint.get("/pipelines/<int:pipeline_id>/executions/<int:execution_id>/log")
def execution_log(pipeline_id: int, execution_id: int) -> Response:
    """The log's tail (with the number of its first line), or with ``?offset=N`` what
    follows byte N, at most ``?limit=BYTES`` of it (JSON)."""
    execution, path = _log_of(pipeline_id, execution_id)
    running = execution.ended_at is None
    numbered: dict[str, int] = {}
    if "offset" in request.args:
        limit = min(_int_arg("limit", CHUNK_BYTES, minimum=1), MAX_CHUNK_BYTES)
        offset = _int_arg("offset", 0, minimum=0)
        chunk = read_from(path, offset, whole_lines=running, max_bytes=limit)
    else:
        chunk = read_tail(path)
        numbered["first_line"] = (count_lines(path, chunk.start) if chunk.start else 0) + 1
    return jsonify(
        execution=execution_id,
        start=chunk.start,
        end=chunk.end,
        size=chunk.size,
        truncated=chunk.truncated,
        finished=not running,
        lines=chunk.lines,
        **numbered,
    )


@blueprint.get("/pipelines/<int:pipeline_id>/executions/<int:execution_id>/log.txt")
def execution_log_download(pipeline_id: int, execution_id: int) -> Response:
    execution, path = _log_of(pipeline_id, execution_id)
    if not path.is_file():
        abort(404, f"execution {execution_id} has no log yet")
    name = f"pipeline-{pipeline_id}{execution.path.replace('/', '-')}-{execution.attempt}.log"
    return send_file(path, mimetype="text/plain", as_attachment=True, download_name=name)


@blueprint.get("/pipelines/<int:pipeline_id>/executions/<int:execution_id>/services/<service>.log")
def service_log(pipeline_id: int, execution_id: int, service: str) -> Response:
    """A service's output, kept beside the node's log when its Exec ended (plain text)."""
    _, path = _log_of(pipeline_id, execution_id)
    if not SERVICE_NAME.fullmatch(service) or service not in service_logs(path):
        abort(404, f"execution {execution_id} kept no log of a service {service!r}")
    return send_file(service_log_path(path, service), mimetype="text/plain")


@blueprint.get("/pipelines/<int:pipeline_id>/stream")
def live(pipeline_id: int) -> Response:
    """Server-sent events: the pipeline after each change, and a node's new log lines."""
    readable_pipeline(pipeline_id)
    node = request.args.get("node")
    if node is not None:
        node = find_node(services(), pipeline_id, node)[0]
    start = request.headers.get("Last-Event-ID") or request.args.get("from", "")
    slots = ui_state().stream_slots
    if not slots.acquire(blocking=False):
        return _event_stream(stream.busy())
    messages = stream.follow(services(), pipeline_id, node, stream.Position.parse(start))
    response = _event_stream(messages)
    # the server closes the response when the browser leaves, even before it was read
    response.call_on_close(slots.release)
    return response


# --- doing ---------------------------------------------------------------------------------


@blueprint.post("/pipelines/<int:pipeline_id>/<action>")
def act(pipeline_id: int, action: str) -> Response:
    """``reset`` (a node: ``path``; an Exec's new command: ``run``), ``skip``, ``unskip``
    (a node: ``path``), ``cancel``, ``rerun-failed``."""
    if action not in ACTIONS:
        abort(404, f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    found = readable_pipeline(pipeline_id)
    user = auth_user()
    if not auth.can_write(user, found.repo):
        abort(403, f"{user.name} may not change pipelines of {found.repo}")
    body = request.get_json(silent=True) if request.is_json else request.form
    path = str((body or {}).get("path", "/"))
    run = new_command(body or {})
    result = perform(services(), pipeline_id, action, path, user.name, run)
    return jsonify(
        ok=True,
        action=result.action,
        pipeline=pipeline_id,
        path=result.path,
        paths=result.paths,
        message=result.message,
        **({} if run is None else {"run": run}),
    )


# --- shared with the pages -------------------------------------------------------------------


def auth_user() -> auth.User:
    user = auth.current_user()
    if user is None:  # the gate lets no one through without a user; this is belt and braces
        abort(401, "sign in first")
    return user


def new_command(body: Any) -> str | None:
    """The ``run`` a reset asks for (None: the command stays); 400 when it is not a
    command.  Browsers send a textarea's line ends as CRLF: the shell wants LF."""
    run = body.get("run")
    if run is None:
        return None
    if not isinstance(run, str) or not run.strip():
        abort(400, "run must be the command the node should run, not empty")
    return run.replace("\r\n", "\n")


def readable_pipeline(pipeline_id: int) -> Pipeline:
    """The pipeline, when it exists and the user may read it (404 otherwise: no probing)."""
    if pipeline_id > MAX_ID:  # past what the database can hold: no such row
        abort(404, f"no pipeline {pipeline_id}")
    try:
        found = services().store.pipeline(pipeline_id)
    except NotFound:
        abort(404, f"no pipeline {pipeline_id}")
    if not auth.can_read(auth_user(), found.repo):
        abort(404, f"no pipeline {pipeline_id}")
    return found


def list_arguments(args: dict[str, str], user: auth.User) -> tuple[PipelineFilter, int, int]:
    """The filter and page a list request asks for; 400 on nonsense."""
    state = args.get("state", "").strip()
    if state and state not in {s.value for s in State}:
        abort(400, f"unknown state {state!r}; one of {', '.join(s.value for s in State)}")
    page = _int_arg("page", 1, minimum=1, args=args)
    per_page = min(_int_arg("per_page", PER_PAGE, minimum=1, args=args), MAX_PER_PAGE)
    allowed = auth.readable_repos(user, lambda: repositories(services().store))
    wanted = PipelineFilter(
        repo=args.get("repo", "").strip(),
        branch=args.get("branch", "").strip(),
        pr=args.get("pr", "").strip().lstrip("#"),
        state=state,
        repos=allowed,
    )
    return wanted, page, per_page


def summary(pipeline: Pipeline, found: PipelinePage) -> dict[str, Any]:
    """One pipeline of a listed page: its header, times, Execs by state and failed Execs."""
    first_start, last_end = found.run_spans.get(pipeline.id, (None, None))
    return {
        **pipeline_header(pipeline),
        **pipeline_times(
            pipeline, first_start, last_end, found.run_intervals.get(pipeline.id, ())
        ).json(),
        "exec_counts": found.exec_counts.get(pipeline.id, {}),
        "failed_nodes": found.failed.get(pipeline.id, []),
        "url": url_for("ui.pages.pipeline", pipeline_id=pipeline.id),
    }


def _log_of(pipeline_id: int, execution_id: int) -> tuple[Execution, Path]:
    readable_pipeline(pipeline_id)
    if execution_id > MAX_ID:
        abort(404, f"pipeline {pipeline_id} has no execution {execution_id}")
    try:
        execution = services().store.execution(execution_id)
    except NotFound:
        abort(404, f"pipeline {pipeline_id} has no execution {execution_id}")
    path = log_file(services().settings, execution)
    if execution.pipeline_id != pipeline_id or path is None:
        abort(404, f"pipeline {pipeline_id} has no execution {execution_id}")
    return execution, path


def _int_arg(name: str, default: int, *, minimum: int, args: dict[str, str] | None = None) -> int:
    text = (args if args is not None else request.args).get(name, "")
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or int(text) < minimum:
        abort(400, f"{name} must be a whole number of at least {minimum}")
    return int(text)


def _event_stream(messages: Iterator[str]) -> Response:
    response = Response(messages, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each message on at once
    return response
