"""The HTML pages: the pipeline list, a pipeline's tree (with its doc and artifacts),
a node with its live log beside the tree.

Pages are drawn on the server and kept live by ``static/ci-bot.js`` through the
JSON API and its event stream; without JavaScript they still show everything
and their forms still work (each answers with a redirect back).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WebResponse

from ci_bot.github.manual import EVENTS, known_repos
from ci_bot.store.listing import list_pipelines, repositories
from ci_bot.store.store import NotFound
from ci_bot.store.views import pipeline_json
from ci_bot.tree.states import State
from ci_bot.web import auth
from ci_bot.web.api import auth_user, list_arguments, new_command, readable_pipeline, summary
from ci_bot.web.api_artifacts import artifacts_json
from ci_bot.web.api_runs import is_operator
from ci_bot.web.ui import views
from ci_bot.web.ui.actions import ACTIONS, ActionRefused, perform
from ci_bot.web.ui.applicable import node_actions, pipeline_actions
from ci_bot.web.ui.markdown import render_doc
from ci_bot.web.ui.nodes import node_json
from ci_bot.web.ui.state import services
from ci_bot.web.ui.timing import pipeline_times, times_of

blueprint = Blueprint("pages", __name__)


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    return render_template("error.html", code=code, message=error.description), code


@blueprint.errorhandler(NotFound)
def _not_found(error: NotFound) -> tuple[str, int]:
    return render_template("error.html", code=404, message=str(error)), 404


@blueprint.get("/")
def home() -> WebResponse:
    return redirect(url_for("ui.pages.pipelines"))


@blueprint.get("/pipelines")
def pipelines() -> str:
    user = auth_user()
    store = services().store
    return render_template(
        "pipelines.html",
        repos=[r for r in repositories(store) if auth.can_read(user, r)],
        runnable=known_repos(store) if is_operator(user) else [],
        run_events=EVENTS,
        **_listed(user),
    )


@blueprint.get("/pipelines/rows")
def pipeline_rows() -> str:
    """The list's live part alone (state chips, rows, pages): what the page fetches
    every few seconds to show new pipelines and changed states without a reload."""
    return render_template("_pipeline_list.html", **_listed(auth_user()))


def _listed(user: auth.User) -> dict[str, Any]:
    """What the list's live part draws: one page of rows, with their times and counts."""
    args = request.args.to_dict()
    wanted, page, per_page = list_arguments(args, user)
    found = list_pipelines(services().store, wanted, page, per_page)
    rows = [summary(p, found) for p in found.pipelines]
    for row, found_pipeline in zip(rows, found.pipelines, strict=True):
        first_start, last_end = found.run_spans.get(found_pipeline.id, (None, None))
        intervals = found.run_intervals.get(found_pipeline.id, ())
        times = pipeline_times(found_pipeline, first_start, last_end, intervals)
        row["run"], row["wall"] = times.shown()
        row["counts"] = views.counts(row["exec_counts"])
    return {
        "rows": rows,
        "filters": wanted,
        "states": [s.value for s in State],
        "state_totals": found.state_totals,
        "total": found.total,
        "page": page,
        "pages": max(1, math.ceil(found.total / per_page)),
        "page_url": lambda number: _with_page(args, number),
        "state_url": lambda state: _with_state(args, state),
        "query": urlencode({k: v for k, v in args.items() if v}),
    }


@blueprint.get("/pipelines/<int:pipeline_id>")
def pipeline(pipeline_id: int) -> str:
    found = readable_pipeline(pipeline_id)
    root, by_state = views.pipeline_tree(services(), pipeline_id)
    doc = services().store.tree(pipeline_id).params.doc
    return render_template(
        "pipeline.html",
        pipeline=found,
        root=root,
        counts=views.counts(by_state),
        times=times_of(found, services().store.executions(pipeline_id)),
        links=views.github_links(services(), found),
        can_write=auth.can_write(auth_user(), found.repo),
        actions=pipeline_actions(pipeline_json(services().store, pipeline_id)),
        doc=render_doc(doc) if doc else None,
        artifacts=artifacts_json(pipeline_id),
        origin=views.origin(services(), found),
    )


@blueprint.get("/pipelines/<int:pipeline_id>/artifacts")
def artifacts_card(pipeline_id: int) -> str:
    """The artifacts card alone, which the pipeline page fetches again as nodes finish."""
    found = readable_pipeline(pipeline_id)
    return render_template("_artifacts.html", pipeline=found, artifacts=artifacts_json(pipeline_id))


@blueprint.get("/pipelines/<int:pipeline_id>/nodes/<path:path>")
def node(pipeline_id: int, path: str) -> str:
    found = readable_pipeline(pipeline_id)
    item = node_json(services(), pipeline_id, path)
    shown = _shown_execution(item)
    root, _ = views.pipeline_tree(services(), pipeline_id)
    nodes = pipeline_json(services().store, pipeline_id)["nodes"]
    return render_template(
        "node.html",
        pipeline=found,
        node=item,
        shown=shown,
        root=root,
        doc=render_doc(item["doc"]) if item["doc"] else None,
        icon=views.icon,
        links=views.github_links(services(), found),
        can_write=auth.can_write(auth_user(), found.repo),
        actions=node_actions(nodes, item["path"]),
        origin=views.origin(services(), found),
        crumbs=_crumbs(pipeline_id, item["path"]),
    )


@blueprint.post("/pipelines/<int:pipeline_id>/actions/<action>")
def act(pipeline_id: int, action: str) -> WebResponse:
    """The forms' fallback without JavaScript: do it, then go back to the page."""
    if action not in ACTIONS:
        abort(404, f"unknown action {action!r}")
    found = readable_pipeline(pipeline_id)
    user = auth_user()
    if not auth.can_write(user, found.repo):
        abort(403, f"{user.name} may not change pipelines of {found.repo}")
    try:
        run = new_command(request.form)
        perform(services(), pipeline_id, action, request.form.get("path", "/"), user.name, run)
    except ActionRefused as error:
        abort(409, str(error))
    return redirect(auth.local_path(request.form.get("next", f"/pipelines/{pipeline_id}")))


def _shown_execution(item: dict[str, Any]) -> dict[str, Any] | None:
    """The execution whose log the page shows: ``?execution=ID``, else the latest."""
    executions = item.get("executions") or []
    wanted = request.args.get("execution", "")
    for execution in executions:
        if str(execution["id"]) == wanted:
            return dict(execution)
    return dict(executions[-1]) if executions else None


def _crumbs(pipeline_id: int, path: str) -> list[tuple[str, str]]:
    parts = [part for part in path.split("/") if part]
    crumbs = [(f"pipeline {pipeline_id}", url_for("ui.pages.pipeline", pipeline_id=pipeline_id))]
    for index, part in enumerate(parts):
        below = "/".join(parts[: index + 1])
        crumbs.append((part, url_for("ui.pages.node", pipeline_id=pipeline_id, path=below)))
    return crumbs


def _with_page(args: dict[str, str], number: int) -> str:
    return "?" + urlencode({**{k: v for k, v in args.items() if v}, "page": number})


def _with_state(args: dict[str, str], state: str) -> str:
    kept = {k: v for k, v in args.items() if v and k not in ("state", "page")}
    return "?" + urlencode({**kept, "state": state} if state else kept)
