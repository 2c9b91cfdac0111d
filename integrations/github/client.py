"""A small GitHub REST client on ``requests``: retries, backoff, one log line per call.

GitHub answers 5xx now and then and rate-limits with 403/429 plus the moment the
limit resets.  Both are retried here (the reset time honoured, up to
``max_wait`` seconds) so the callers — reporters, command handlers — see either
an answer or one ``IntegrationError`` with a sentence, never a half-handled
``requests`` exception.  Tokens are sent in headers and never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from ci_bot.errors import IntegrationError

logger = logging.getLogger(__name__)

USER_AGENT = "ci-bot"
API_VERSION = "2022-11-28"


class GitHubError(IntegrationError):
    """GitHub answered with an error (``status`` 0: it could not be reached)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class GitHubClient:
    def __init__(
        self,
        base_url: str,
        *,
        max_attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        timeout: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def request(self, method: str, path: str, token: str, body: Any = None) -> Any:
        """The decoded JSON answer (None for an empty one); IntegrationError otherwise."""
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "User-Agent": USER_AGENT,
            "X-GitHub-Api-Version": API_VERSION,
        }
        attempt = 1
        while True:
            outcome = self._attempt(method, path, headers, body, attempt)
            if outcome.error is None:
                return outcome.answer
            if attempt >= self.max_attempts or outcome.wait is None:
                raise GitHubError(outcome.error, outcome.status)
            self._sleep(outcome.wait)
            attempt += 1

    def _attempt(
        self, method: str, path: str, headers: dict[str, str], body: Any, attempt: int
    ) -> _Outcome:
        started = time.monotonic()
        try:
            response = self._session.request(
                method, self.base_url + path, headers=headers, json=body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            logger.warning("GitHub %s %s failed: %s (attempt %d)", method, path, exc, attempt)
            return _Outcome(
                error=f"GitHub could not be reached: {type(exc).__name__}",
                wait=self._backoff(attempt),
            )
        elapsed = (time.monotonic() - started) * 1000
        logger.info(
            'GitHub %s %s "%d %s" %.0fms (attempt %d)',
            *(method, path, response.status_code, response.reason, elapsed, attempt),
        )
        if response.status_code < 300:
            return _Outcome(answer=response.json() if response.content else None)
        return _Outcome(
            error=_describe(method, path, response),
            wait=self._retry_after(response, attempt),
            status=response.status_code,
        )

    def _retry_after(self, response: requests.Response, attempt: int) -> float | None:
        """How long to wait before trying again, or None when retrying cannot help."""
        status = response.status_code
        if status >= 500:
            return self._backoff(attempt)
        if status not in (403, 429):
            return None
        if "retry-after" in response.headers:  # GitHub's secondary rate limits
            wait = _number(response.headers["retry-after"])
        elif response.headers.get("x-ratelimit-remaining") == "0":
            reset = _number(response.headers.get("x-ratelimit-reset", "0"))
            wait = max(reset - self._clock(), 0.0) + 1.0
        else:
            return None  # a plain 403: a missing permission, not a limit
        if wait > self.max_wait:
            logger.warning("GitHub rate limit resets in %.0fs; not waiting that long", wait)
            return None
        return wait

    def _backoff(self, attempt: int) -> float:
        return float(self.backoff * 2 ** (attempt - 1))


@dataclass(frozen=True)
class _Outcome:
    answer: Any = None
    error: str | None = None  # None: success
    wait: float | None = None  # seconds before the next attempt; None: do not retry
    status: int = 0


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _describe(method: str, path: str, response: requests.Response) -> str:
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = ""
    words = f": {message}" if message else ""
    return f"GitHub answered {response.status_code} to {method} {path}{words}"
