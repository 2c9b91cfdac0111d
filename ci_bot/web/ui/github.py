"""Optional sign-in with GitHub (OAuth web flow) and the repository permissions it gives.

A GitHub user reads the pipelines of repositories they can pull and acts on those
they can push to, as GitHub says (``permissions`` of ``GET /repos/{owner}/{repo}``
asked with their own token), remembered for a minute so pages need not ask each
time.  Configured by ``CI_BOT_GITHUB_OAUTH_CLIENT_ID`` and ``_CLIENT_SECRET``
(an OAuth App's, or a GitHub App's, whose user tokens reach private repositories
it is installed on); GitHub's address follows ``CI_BOT_GITHUB_API_URL``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import Request, urlopen

from ci_bot.settings import Settings, SettingsError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
PERMISSION_SECONDS = 60.0
CLIENT_ID_ENV = "CI_BOT_GITHUB_OAUTH_CLIENT_ID"
CLIENT_SECRET_ENV = "CI_BOT_GITHUB_OAUTH_CLIENT_SECRET"


class GitHubSignInError(Exception):
    """GitHub refused or could not be reached; the message is for the person signing in."""


@dataclass(frozen=True)
class OAuthConfig:
    client_id: str
    client_secret: str = field(repr=False)
    web_url: str = "https://github.com"
    api_url: str = "https://api.github.com"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], settings: Settings) -> OAuthConfig | None:
        """The config when both variables are set, None when neither is."""
        client_id = environ.get(CLIENT_ID_ENV, "").strip()
        secret = environ.get(CLIENT_SECRET_ENV, "").strip()
        if not client_id and not secret:
            return None
        if not client_id or not secret:
            raise SettingsError(
                f"GitHub sign-in needs both {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}"
            )
        return cls(client_id, secret, web_url(settings), settings.github_api_url)


def web_url(settings: Settings) -> str:
    """GitHub's web address for its API address (github.com, or a GitHub Enterprise host)."""
    api = settings.github_api_url
    if urlsplit(api).hostname == "api.github.com":
        return "https://github.com"
    return api.removesuffix("/api/v3")


def authorize_url(config: OAuthConfig, state: str, redirect_uri: str) -> str:
    query = urlencode({"client_id": config.client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{config.web_url}/login/oauth/authorize?{query}"


def exchange_code(config: OAuthConfig, code: str, redirect_uri: str) -> str:
    """The user's access token for the ``code`` GitHub sent back."""
    form = {
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
    }
    status, body = _call("POST", f"{config.web_url}/login/oauth/access_token", form=form)
    token = body.get("access_token") if isinstance(body, dict) else None
    if status != 200 or not isinstance(token, str) or not token:
        reason = body.get("error_description") if isinstance(body, dict) else None
        raise GitHubSignInError(f"GitHub did not accept the sign-in: {reason or status}")
    return token


def user_login(config: OAuthConfig, token: str) -> str:
    status, body = _call("GET", f"{config.api_url}/user", token=token)
    login = body.get("login") if isinstance(body, dict) else None
    if status != 200 or not isinstance(login, str):
        raise GitHubSignInError(f"GitHub did not say who you are (HTTP {status})")
    return login


@dataclass(frozen=True)
class Permission:
    pull: bool = False
    push: bool = False


def repo_permission(config: OAuthConfig, token: str, repo: str) -> Permission:
    """What the token's user may do on ``owner/name``; nothing when GitHub says no or fails."""
    if repo.count("/") != 1:
        return Permission()  # a local run's repository is not on GitHub
    try:
        status, body = _call("GET", f"{config.api_url}/repos/{quote(repo)}", token=token)
    except GitHubSignInError:
        return Permission()
    granted = body.get("permissions") if isinstance(body, dict) else None
    if status != 200 or not isinstance(granted, dict):
        return Permission()
    push = bool(granted.get("push") or granted.get("maintain") or granted.get("admin"))
    return Permission(pull=bool(granted.get("pull")) or push, push=push)


class PermissionCache:
    """Answers of ``repo_permission`` per session and repository, for a minute."""

    def __init__(self, config: OAuthConfig, seconds: float = PERMISSION_SECONDS) -> None:
        self.config = config
        self.seconds = seconds
        self._answers: dict[tuple[str, str], tuple[float, Permission]] = {}
        self._lock = threading.Lock()

    def get(self, session_hash: str, token: str, repo: str) -> Permission:
        key = (session_hash, repo)
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.seconds:
            return cached[1]
        permission = repo_permission(self.config, token, repo)
        with self._lock:
            self._answers[key] = (time.monotonic(), permission)
        return permission


def _call(
    method: str, url: str, *, token: str = "", form: dict[str, str] | None = None
) -> tuple[int, Any]:
    headers = {"Accept": "application/json", "User-Agent": "ci-bot"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = urlencode(form).encode() if form is not None else None
    request = Request(url, data=data, headers=headers, method=method)
    try:
        with urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, raw = response.status, response.read()
    except HTTPError as error:
        status, raw = error.code, error.read()
    except (URLError, OSError) as error:
        logger.warning("GitHub %s %s failed: %s", method, url, error)
        raise GitHubSignInError(f"GitHub could not be reached: {error}") from None
    logger.info('GitHub request: %s %s "%d"', method, url, status)
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, None
