"""Who may use the UI and the API: sign-in with a token (or with GitHub), sessions, CSRF.

Every request but webhooks, ``/healthz``, ``/metrics``, static files and the
sign-in pages needs a user: the session cookie set at sign-in, or
``Authorization: Bearer TOKEN`` (scripts, the CLI).  Tokens are those in
``CI_BOT_UI_TOKENS`` and those made with ``ci-bot ui-token create``.

Sessions live in the store (the cookie holds a random id, HttpOnly and
SameSite=Lax), so signing out ends them.  A request that changes something on a
session must carry that session's CSRF token (form field ``csrf_token`` or
header ``X-CSRF-Token``); a bearer request carries no ambient credential and
needs none.  Token users may do everything; a GitHub user reads repositories
they can pull and acts on those they can push to.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import abort, g, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response as WebResponse

from ci_bot.services import Services
from ci_bot.web.ui.state import services, ui_state

logger = logging.getLogger(__name__)

SESSION_COOKIE = "ci_bot_session"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
OPEN_PATHS = ("/healthz", "/sign-in", "/sign-in/github", "/sign-in/github/callback")
OPEN_PREFIXES = ("/webhooks/", "/ui-static/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class User:
    name: str  # "alice" (a token's name), "token-1" (CI_BOT_UI_TOKENS), "github:octocat"
    kind: str  # token | github
    csrf_token: str = field(default="", repr=False)  # empty: a bearer request
    session_hash: str = ""
    github_token: str = field(default="", repr=False)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def token_user(svc: Services, token: str) -> User | None:
    """The user a sign-in token stands for, or None."""
    if not token:
        return None
    for number, known in enumerate(svc.settings.ui_tokens, start=1):
        if hmac.compare_digest(known.encode(), token.encode()):
            return User(f"token-{number}", "token")
    name = svc.store.ui_token_name(hash_secret(token))
    return User(name, "token") if name else None


def current_user() -> User | None:
    user: User | None = g.get("ci_bot_user")
    return user


def gate() -> WebResponse | None:
    """Before every request: find the user; send strangers to sign in; check CSRF."""
    path = request.path
    if request.url_rule is None or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None  # unknown paths get their 404 from the app; open ones need no user
    user = _request_user()
    g.ci_bot_user = user
    if user is None:
        if path.startswith("/api/") or path == "/metrics":  # machines get 401, not a form
            response = jsonify(error="sign in first: send Authorization: Bearer TOKEN")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="ci-bot"'
            return response
        # after signing in, come back here; a form posted while signed out is not redone
        back = request.full_path if request.method in SAFE_METHODS else "/pipelines"
        return redirect(url_for("ui.auth.sign_in", next=local_path(back)))
    if request.method not in SAFE_METHODS and user.csrf_token:
        sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
        if not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
            logger.warning("refused %s %s: CSRF token missing or wrong", request.method, path)
            abort(403, "this form has expired or did not come from ci-bot; reload and try again")
    return None


def _request_user() -> User | None:
    svc = services()
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return token_user(svc, header.removeprefix("Bearer ").strip())
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not cookie:
        return None
    session = svc.store.ui_session(hash_secret(cookie))
    if session is None:
        return None
    return User(
        session.user, session.kind, session.csrf_token, session.id_hash, session.github_token
    )


def start_session(user: str, kind: str, next_path: str, github_token: str = "") -> WebResponse:
    """Sign ``user`` in: a new session, its cookie, and a redirect to ``next_path``."""
    cookie = new_secret()
    services().store.create_ui_session(
        hash_secret(cookie), user, kind, new_secret(), SESSION_SECONDS, github_token
    )
    logger.info("%s signed in (%s)", user, kind)
    response = redirect(local_path(next_path))
    set_cookie(response, SESSION_COOKIE, cookie, SESSION_SECONDS)
    return response


def end_session(response: WebResponse) -> None:
    user = current_user()
    if user is not None and user.session_hash:
        services().store.end_ui_session(user.session_hash)
        logger.info("%s signed out", user.name)
    response.delete_cookie(SESSION_COOKIE, path="/")


def set_cookie(response: WebResponse, name: str, value: str, seconds: int) -> None:
    secure = services().settings.public_url.startswith("https://")
    response.set_cookie(
        name, value, max_age=seconds, httponly=True, samesite="Lax", secure=secure, path="/"
    )


def local_path(path: str) -> str:
    """``path`` when it stays on this site, else the pipeline list (no open redirects)."""
    if path.startswith("/") and not path.startswith(("//", "/\\")) and "\n" not in path:
        return path.removesuffix("?")
    return "/pipelines"


# --- permissions -------------------------------------------------------------------------


def can_read(user: User, repo: str) -> bool:
    return user.kind == "token" or _github_permission(user, repo)[0]


def can_write(user: User, repo: str) -> bool:
    return user.kind == "token" or _github_permission(user, repo)[1]


def readable_repos(user: User, repos: Callable[[], list[str]]) -> list[str] | None:
    """The repositories ``user`` may read out of ``repos()``; None: all of them."""
    if user.kind == "token":
        return None
    return [repo for repo in repos() if can_read(user, repo)]


def _github_permission(user: User, repo: str) -> tuple[bool, bool]:
    cache = ui_state().permissions
    if user.kind != "github" or cache is None:
        return False, False
    permission = cache.get(user.session_hash, user.github_token, repo)
    return permission.pull, permission.push
