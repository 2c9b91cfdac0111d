"""The sign-in and sign-out pages: a token form, and GitHub's OAuth web flow when set up.

Before there is a session, the sign-in form is protected from cross-site posts
by a double-submit token: a random cookie that the form must repeat.  Wrong
tokens count against the client's address (``throttle``); past the limit the
form answers 429 with ``Retry-After`` without looking at the token.  ``next``
goes through ``redirects.local_path``: only a path on this site.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WebResponse

from ci_bot.web import auth
from ci_bot.web.ui import github
from ci_bot.web.ui.state import services, ui_state

blueprint = Blueprint("auth", __name__)

SIGN_IN_COOKIE = "ci_bot_sign_in"
OAUTH_COOKIE = "ci_bot_oauth_state"
FORM_SECONDS = 3600


@blueprint.get("/sign-in")
def sign_in() -> Response:
    return _form(auth.local_path(request.args.get("next", "/pipelines")), error="", status=200)


@blueprint.post("/sign-in")
def sign_in_post() -> WebResponse:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    sent = request.form.get(auth.CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, "the sign-in form has expired or did not come from ci-bot; reload it")
    next_path = auth.local_path(request.form.get("next", "/pipelines"))
    throttle, address = ui_state().throttle, auth.client_address()
    wait = throttle.retry_after(address)
    if wait is not None:
        paused = _form(next_path, error=auth.too_many_tries(wait).capitalize(), status=429)
        paused.headers["Retry-After"] = str(wait)
        return paused
    token = request.form.get("token", "").strip()
    user = auth.token_user(services(), token)
    if user is None:
        if token:
            throttle.failed(address, "token in the sign-in form")
        return _form(next_path, error="That token is not valid.", status=401)
    response = auth.start_session(user.name, "token", next_path, role=user.role)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


@blueprint.post("/sign-out")
def sign_out() -> WebResponse:
    response = redirect(url_for("ui.auth.sign_in"))
    auth.end_session(response)
    return response


@blueprint.get("/sign-in/github")
def github_start() -> WebResponse:
    oauth = ui_state().oauth
    if oauth is None:
        abort(404, "GitHub sign-in is not set up on this bot")
    state = auth.new_secret()
    next_path = auth.local_path(request.args.get("next", "/pipelines"))
    response = redirect(github.authorize_url(oauth, state, _callback_url()))
    auth.set_cookie(response, OAUTH_COOKIE, f"{state} {next_path}", 600)
    return response


@blueprint.get("/sign-in/github/callback")
def github_callback() -> WebResponse:
    oauth = ui_state().oauth
    if oauth is None:
        abort(404, "GitHub sign-in is not set up on this bot")
    state, _, next_path = request.cookies.get(OAUTH_COOKIE, "").partition(" ")
    sent = request.args.get("state", "")
    if not state or not hmac.compare_digest(sent.encode(), state.encode()):
        abort(400, "this GitHub sign-in did not start here, or took too long; try again")
    code = request.args.get("code", "")
    if not code:
        abort(400, f"GitHub did not sign you in: {request.args.get('error', 'no code')}")
    try:
        token = github.exchange_code(oauth, code, _callback_url())
        login = github.user_login(oauth, token)
    except github.GitHubSignInError as error:
        return _form("/pipelines", error=str(error), status=502)
    response = auth.start_session(f"github:{login}", "github", next_path, github_token=token)
    response.delete_cookie(OAUTH_COOKIE, path="/")
    return response


def _callback_url() -> str:
    return f"{services().settings.public_url}/sign-in/github/callback"


def _form(next_path: str, *, error: str, status: int) -> Response:
    csrf = auth.new_secret()
    page = render_template(
        "sign_in.html",
        csrf_token=csrf,
        next_path=next_path,
        error=error,
        github=ui_state().oauth is not None,
    )
    response = Response(page, status=status)
    auth.set_cookie(response, SIGN_IN_COOKIE, csrf, FORM_SECONDS)
    return response
