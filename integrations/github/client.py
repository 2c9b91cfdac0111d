"""ci-bot's connections to GitHub, on PyGithub: ``GithubRetry``, one log line per call.

GitHub answers 5xx now and then and rate-limits with 403/429 plus the moment the
limit resets.  PyGithub's ``GithubRetry`` retries both (the reset time honoured,
up to ``max_wait`` seconds; 5xx with urllib3's doubling backoff), so the callers
— reporters, command handlers — see either an answer or one ``GitHubError``
with a sentence, never a PyGithub or ``requests`` exception.  One ``Github`` is
kept per installation; its token is asked of the ``TokenSource`` on each request
(an App's is cached there and renewed before it expires).  Tokens are sent in
headers and never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException, GithubRetry
from urllib3 import Retry
from urllib3.connectionpool import ConnectionPool
from urllib3.response import HTTPResponse

from ci_bot.errors import IntegrationError

logger = logging.getLogger(__name__)

USER_AGENT = "ci-bot"
T = TypeVar("T")


class GitHubError(IntegrationError):
    """GitHub answered with an error (``status`` 0: it could not be reached)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class GitHubClient:
    """PyGithub clients of one API base URL (``CI_BOT_GITHUB_API_URL``), one per installation."""

    def __init__(
        self,
        base_url: str,
        *,
        max_attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        timeout: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = timeout
        self._sleep = sleep
        self._clients: dict[Any, Github] = {}
        self._lock = threading.Lock()

    def github(self, key: Any, token: Callable[[], str]) -> Github:
        """The client for ``key`` (an installation), authenticated by ``token()``."""
        with self._lock:
            if key not in self._clients:
                self._clients[key] = Github(
                    auth=_AskedToken(token),
                    base_url=self.base_url,
                    timeout=int(self.timeout),
                    user_agent=USER_AGENT,
                    retry=self._retry(),
                    lazy=True,  # no GET of a repository, issue or commit before acting on it
                    seconds_between_requests=None,
                    seconds_between_writes=None,
                )
            return self._clients[key]

    def _retry(self) -> _Retry:
        return _Retry(
            sleep=self._sleep,
            total=self.max_attempts - 1,
            backoff_factor=self.backoff,
            max_rate_limit_wait=self.max_wait,
            status_forcelist=[*range(500, 600), 429],  # GithubRetry adds 403
            allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"},
            raise_on_status=False,  # the last answer becomes PyGithub's exception
        )

    def call(self, method: str, path: str, action: Callable[[], T]) -> T:
        """``action()`` (PyGithub calls), logged in one line; ``GitHubError`` if it fails."""
        started = time.monotonic()
        try:
            answer = action()
        except GithubException as error:
            message = describe(method, path, error)
            logger.warning("GitHub %s %s failed for good: %s", method, path, message)
            raise GitHubError(message, error.status) from None
        except requests.RequestException as error:
            logger.warning("GitHub %s %s failed: %s", method, path, error)
            raise GitHubError(f"GitHub could not be reached: {type(error).__name__}") from None
        elapsed = (time.monotonic() - started) * 1000
        logger.info("GitHub %s %s ok %.0fms", method, path, elapsed)
        return answer

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


class _AskedToken(Auth.Auth):
    """A token asked of ci-bot's ``TokenSource`` on each request (an App's is renewed)."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self._token()

    @property
    def _masked_token(self) -> str:
        return "token (removed)"


class _Retry(GithubRetry):
    """``GithubRetry`` that logs each retried answer and sleeps through ``sleep`` (tests)."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        self._sleeper = sleep
        super().__init__(**kwargs)

    def new(self, **kwargs: Any) -> _Retry:
        kwargs["sleep"] = self._sleeper
        return super().new(**kwargs)

    def increment(  # type: ignore[override]  # as GithubRetry's own
        self,
        method: str | None = None,
        url: str | None = None,
        response: HTTPResponse | None = None,  # type: ignore[override]
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Retry:
        attempt = len(self.history) + 1
        if response is not None:
            logger.warning(
                'GitHub %s %s "%d %s" (attempt %d)',
                *(method, url, response.status, response.reason, attempt),
            )
        elif error is not None:
            logger.warning("GitHub %s %s failed: %s (attempt %d)", method, url, error, attempt)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep_for_retry(self, response: Any) -> bool:
        wait = self.get_retry_after(response)
        if wait:
            self._sleeper(wait)
            return True
        return False

    def _sleep_backoff(self) -> None:
        wait = self.get_backoff_time()
        if wait > 0:
            self._sleeper(wait)


def describe(method: str, path: str, error: GithubException) -> str:
    message = error.data.get("message", "") if isinstance(error.data, dict) else ""
    words = f": {message}" if message else ""
    return f"GitHub answered {error.status} to {method} {path}{words}"
