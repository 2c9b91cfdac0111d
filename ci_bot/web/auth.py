"""Who may use the UI and the API: sign-in with a token (or with GitHub), sessions, CSRF.

Every request but webhooks, ``/healthz``, ``/metrics``, static files and the
sign-in pages needs a user: the session cookie set at sign-in, or
``Authorization: Bearer TOKEN`` (scripts, the CLI).  Tokens are those in
``CI_BOT_UI_TOKENS`` (operators) and those made with ``ci-bot ui-token create``
(a ``viewer`` by default, or ``--role operator``).  Wrong tokens are counted per
client address (``throttle``): past a few, that address gets 429 for a while.

Sessions live in the store (the cookie holds a random id, HttpOnly and
SameSite=Lax), so signing out ends them.  A request that changes something on a
session must carry that session's CSRF token (form field ``csrf_token`` or
header ``X-CSRF-Token``); a bearer request carries no ambient credential and
needs none.  A viewer token reads everything and changes nothing (the only
thing it may post is sign-out); an operator token may do everything; a GitHub
user reads repositories they can pull and acts on those they can push to.
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
from ci_bot.store.ui_records import OPERATOR
from ci_bot.web.redirects import local_path as local_path  # the pages' and sign-in's
from ci_bot.web.ui.state import services, ui_state

logger = logging.getLogger(__name__)

SESSION_COOKIE = "ci_bot_session"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
OPEN_PATHS = ("/healthz", "/sign-in", "/sign-in/github", "/sign-in/github/callback")
OPEN_PREFIXES = ("/webhooks/", "/ui-static/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
VIEWER_MAY_POST = ("ui.auth.sign_out",)


@dataclass(frozen=True)
class User:
    name: str  # "alice" (a token's name), "token-1" (CI_BOT_UI_TOKENS), "github:octocat"
    kind: str  # token | github
    csrf_token: str = field(default="", repr=False)  # empty: a bearer request
    session_hash: str = ""
    github_token: str = field(default="", repr=False)
    role: str = OPERATOR  # a token's: viewer | operator (a GitHub user's rights are GitHub's)

    @property
    def is_viewer(self) -> bool:
        return self.kind == "token" and self.role != OPERATOR


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def token_user(svc: Services, token: str) -> User | None:
    """The user a sign-in token stands for, or None."""
    if not token:
        return None
    for number, known in enumerate(svc.settings.ui_tokens, start=1):
        if hmac.compare_digest(known.encode(), token.encode("utf-8", "replace")):
            return User(f"token-{number}", "token", role=OPERATOR)  # as before roles existed
    found = svc.store.ui_token_by_hash(hash_secret(token))
    return User(found.name, "token", role=found.role) if found else None


def client_address() -> str:
    return request.remote_addr or "unknown"


def too_many_tries(seconds: int) -> str:
    return (
        f"too many wrong tokens from your address; try again in {seconds} seconds "
        "(or ask for a new token if yours no longer works)"
    )


def viewer_refusal(user: User) -> str:
    return (
        f"{user.name} signed in with a viewer token: it can read pipelines but not reset, "
        "skip, cancel or rerun them. Ask for an operator token "
        "(ci-bot ui-token create NAME --role operator)."
    )


def current_user() -> User | None:
    user: User | None = g.get("ci_bot_user")
    return user


def gate() -> WebResponse | None:
    """Before every request: find the user; send strangers to sign in; check CSRF."""
    path = request.path
    if request.url_rule is None or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None  # unknown paths get their 404 from the app; open ones need no user
    found = _request_user()
    if isinstance(found, WebResponse):
        return found  # throttled
    user = g.ci_bot_user = found
    if user is None:
        if path.startswith("/api/") or path == "/metrics":  # machines get 401, not a form
            response = jsonify(error="sign in first: send Authorization: Bearer TOKEN")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="ci-bot"'
            return response
        # after signing in, come back here; a form posted while signed out is not redone
        back = request.full_path if request.method in SAFE_METHODS else "/pipelines"
        return redirect(url_for("ui.auth.sign_in", next=local_path(back)))
    changes = request.method not in SAFE_METHODS
    if changes and user.is_viewer and request.endpoint not in VIEWER_MAY_POST:
        logger.info("refused %s %s: %s has a viewer token", request.method, path, user.name)
        abort(403, viewer_refusal(user))
    if changes and user.csrf_token:
        sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
        if not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
            logger.warning("refused %s %s: CSRF token missing or wrong", request.method, path)
            abort(403, "this form has expired or did not come from ci-bot; reload and try again")
    return None


def _request_user() -> User | WebResponse | None:
    """The user, None for a stranger, or a 429 for an address sending wrong tokens."""
    svc = services()
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return _bearer_user(svc, header.removeprefix("Bearer ").strip())
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not cookie:
        return None
    session = svc.store.ui_session(hash_secret(cookie))
    if session is None:
        return None
    return User(
        session.user,
        session.kind,
        session.csrf_token,
        session.id_hash,
        session.github_token,
        role=session.role,
    )


def _bearer_user(svc: Services, token: str) -> User | WebResponse | None:
    throttle, address = ui_state().throttle, client_address()
    wait = throttle.retry_after(address)
    if wait is not None:  # checked before the token: a right guess must not show
        response = jsonify(error=too_many_tries(wait))
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response
    user = token_user(svc, token)
    if user is None and token:
        throttle.failed(address, "bearer token")
    return user


def start_session(
    user: str, kind: str, next_path: str, github_token: str = "", role: str = OPERATOR
) -> WebResponse:
    """Sign ``user`` in: a new session, its cookie, and a redirect to ``next_path``."""
    cookie = new_secret()
    services().store.create_ui_session(
        hash_secret(cookie), user, kind, new_secret(), SESSION_SECONDS, github_token, role
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


# --- permissions -------------------------------------------------------------------------


def can_read(user: User, repo: str) -> bool:
    return user.kind == "token" or _github_permission(user, repo)[0]


def can_write(user: User, repo: str) -> bool:
    if user.kind == "token":
        return not user.is_viewer
    return _github_permission(user, repo)[1]


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
