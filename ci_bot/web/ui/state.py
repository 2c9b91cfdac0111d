"""What the UI keeps beside the app: GitHub sign-in, its permission answers, stream slots,
and the count of wrong sign-in tokens per address."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import Flask, current_app

from ci_bot.services import Services
from ci_bot.web.throttle import FailureThrottle
from ci_bot.web.ui.github import CLIENT_ID_ENV, CLIENT_SECRET_ENV, OAuthConfig, PermissionCache

# Each live stream holds a server thread (waitress has 8 by default) for up to
# STREAM_SECONDS; past this many at once, a browser is told to come back shortly.
MAX_STREAMS = 4


@dataclass
class UiState:
    oauth: OAuthConfig | None
    permissions: PermissionCache | None
    stream_slots: threading.BoundedSemaphore
    throttle: FailureThrottle  # tests put one with their own clock here


def setup(app: Flask) -> None:
    """Read the UI's own settings once, when the blueprint is registered."""
    services: Services = app.extensions["ci_bot"]
    settings = services.settings
    environ = {
        CLIENT_ID_ENV: settings.github_oauth_client_id,
        CLIENT_SECRET_ENV: settings.github_oauth_client_secret,
    }
    oauth = OAuthConfig.from_env(environ, settings)
    app.extensions["ci_bot_ui"] = UiState(
        oauth=oauth,
        permissions=PermissionCache(oauth) if oauth else None,
        stream_slots=threading.BoundedSemaphore(MAX_STREAMS),
        throttle=FailureThrottle(),
    )


def configure_github_sign_in(app: Flask, oauth: OAuthConfig | None) -> None:
    """Turn GitHub sign-in on (or off) for an app already made (tests, embedding)."""
    state = app.extensions["ci_bot_ui"]
    state.oauth = oauth
    state.permissions = PermissionCache(oauth) if oauth else None


def ui_state() -> UiState:
    state: UiState = current_app.extensions["ci_bot_ui"]
    return state


def services() -> Services:
    found: Services = current_app.extensions["ci_bot"]
    return found
