"""Who ci-bot is on GitHub: a GitHub App (JWT → installation tokens) or a personal token.

An App signs a short JWT with its private key (PyGithub's ``Auth.AppAuth``) and
trades it for an installation token per installation; tokens are cached until
shortly before they expire, so a busy bot asks once an hour, not once a call.
A personal token is used as it is.  Neither value is ever logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import requests
from github import Auth, GithubException, GithubIntegration

from ci_bot.errors import IntegrationError
from ci_bot.settings import Settings
from integrations.github.client import GitHubError

logger = logging.getLogger(__name__)

REFRESH_BEFORE_SECONDS = 300.0  # a token is replaced this long before it expires


class TokenSource(Protocol):
    @property
    def mode(self) -> str:
        """ "app" (reports as check runs) or "token" (as commit statuses)."""
        ...

    def token(self, installation_id: int | None) -> str:
        """A token that may act on the installation's repositories."""
        ...


@dataclass(frozen=True)
class PersonalToken:
    value: str
    mode: str = "token"

    def token(self, installation_id: int | None) -> str:
        return self.value


class AppTokens:
    """Installation tokens of one GitHub App, cached per installation."""

    mode = "app"

    def __init__(
        self,
        app_id: str,
        private_key: str,
        base_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._integration = GithubIntegration(
            auth=Auth.AppAuth(app_id, private_key),
            base_url=base_url,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        self._clock = clock
        self._cache: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(self, installation_id: int | None) -> str:
        if installation_id is None:
            raise IntegrationError(
                "the delivery names no GitHub App installation; install the App on the repository"
            )
        with self._lock:
            cached = self._cache.get(installation_id)
            if cached and cached[1] - self._clock() > REFRESH_BEFORE_SECONDS:
                return cached[0]
            token, expires = self._fetch(installation_id)
            self._cache[installation_id] = (token, expires)
            return token

    def _fetch(self, installation_id: int) -> tuple[str, float]:
        try:
            granted = self._integration.get_access_token(installation_id)
        except GithubException as error:
            raise GitHubError(
                f"GitHub refused an installation token for installation {installation_id} "
                f"({error.status}); check the App id, its private key and the installation",
                error.status,
            ) from None
        except requests.RequestException as error:
            raise GitHubError(
                f"GitHub could not be reached for an installation token: {type(error).__name__}"
            ) from None
        logger.info("GitHub installation token for installation %s obtained", installation_id)
        expires = granted.expires_at
        return granted.token, _epoch(expires) if expires else self._clock() + 3600


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def token_source(settings: Settings) -> TokenSource | None:
    """The App when its id and key are set, else the personal token, else None."""
    if settings.github_app_id and settings.github_private_key_file:
        key = _read_key(settings.github_private_key_file)
        return AppTokens(settings.github_app_id, key, settings.github_api_url)
    if settings.github_token:
        return PersonalToken(settings.github_token)
    return None


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise IntegrationError(
            f"cannot read the GitHub App private key {path}: {error.strerror}"
        ) from None
