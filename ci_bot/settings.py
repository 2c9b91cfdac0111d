"""Typed settings from ``CI_BOT_*`` environment variables, read and checked once.

Each setting is declared once, with its default and help (datasette's
``SETTINGS``), so the docs can be checked against this table.  Every problem is
collected before raising, so a person fixes them all in one go.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ci_bot.errors import CiBotError
from ci_bot.tree.params import read_mem


class SettingsError(CiBotError):
    """One or more CI_BOT_* variables are invalid."""


@dataclass(frozen=True)
class Setting:
    env: str
    help: str
    parse: Callable[[str], Any] = str
    secret: bool = False


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        raise ValueError("must be true or false")
    return lowered in ("1", "true", "yes", "on")


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "ci-bot"


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return text.rstrip("/")


def _fernet_key(text: str) -> str:
    from cryptography.fernet import Fernet  # here: only this check needs it at start-up

    try:
        Fernet(text.encode())
    except ValueError:
        raise ValueError(
            "must be a Fernet key: 44 characters of url-safe base64 "
            "(python3 -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from None
    return text


_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,30}")
_GITHUB_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")


def _slack_users(text: str) -> tuple[tuple[str, str], ...]:
    """``U123=octocat,U456=hubot``: which GitHub user each Slack user is."""
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        slack, sep, github = (side.strip() for side in item.partition("="))
        if not item:
            continue
        if not sep or not _SLACK_USER.fullmatch(slack) or not _GITHUB_LOGIN.fullmatch(github):
            raise ValueError(f"{item!r} is not SLACK_USER_ID=github-login (e.g. U0123ABCD=octocat)")
        pairs.append((slack, github))
    return tuple(pairs)


def _tokens(text: str) -> tuple[str, ...]:
    tokens = tuple(token.strip() for token in text.split(",") if token.strip())
    if any(len(token) < 16 for token in tokens):
        raise ValueError("each token must be at least 16 characters")
    return tokens


SETTINGS: dict[str, Setting] = {
    "data_dir": Setting(
        "CI_BOT_DATA_DIR", "Mirrors, workspaces, logs, data stores, the SQLite file.", Path
    ),
    "database_url": Setting(
        "CI_BOT_DATABASE_URL", "Any SQLAlchemy URL; default SQLite in the data dir.", secret=True
    ),
    "max_parallel": Setting(
        "CI_BOT_MAX_PARALLEL", "Execs running at once on this host; default: cores.", _positive_int
    ),
    "public_url": Setting(
        "CI_BOT_PUBLIC_URL", "The bot's address, for links in GitHub and Slack.", _url
    ),
    "allow_docker_socket": Setting(
        "CI_BOT_ALLOW_DOCKER_SOCKET",
        "true lets nodes with `requires_docker` mount the Docker socket.",
        _flag,
    ),
    "default_mem": Setting(
        "CI_BOT_DEFAULT_MEM", 'Memory limit of an Exec that sets no `mem` ("4g").', read_mem
    ),
    "max_mem": Setting(
        "CI_BOT_MAX_MEM", "The most `mem` a node may ask for; unset: no maximum.", read_mem
    ),
    "default_pids": Setting(
        "CI_BOT_DEFAULT_PIDS", "Processes an Exec that sets no `pids` may have.", _positive_int
    ),
    "max_pids": Setting("CI_BOT_MAX_PIDS", "The most `pids` a node may ask for.", _positive_int),
    "log_limit": Setting(
        "CI_BOT_LOG_LIMIT",
        'A node\'s log is cut past this size, with a note saying so ("1g").',
        read_mem,
    ),
    "registry_auth_file": Setting(
        "CI_BOT_REGISTRY_AUTH_FILE",
        'Registry credentials in Docker\'s config.json format ({"auths": {HOST: {"auth": …}}}), '
        "used per registry host to pull images for trusted pipelines, never for forks.",
        Path,
    ),
    "secrets_file": Setting(
        "CI_BOT_SECRETS_FILE",
        "NAME=value lines given to every repository (the older way; prefer "
        "`ci-bot secrets set`); default secrets.env in the data dir.",
        Path,
    ),
    "secret_key": Setting(
        "CI_BOT_SECRET_KEY",
        "The Fernet key that encrypts the secret store at rest; unset: the key file.",
        _fernet_key,
        secret=True,
    ),
    "secret_key_file": Setting(
        "CI_BOT_SECRET_KEY_FILE",
        "The key's file when CI_BOT_SECRET_KEY is unset; made (0600) by the first "
        "`ci-bot secrets set`; default secret.key in the data dir.",
        Path,
    ),
    "docker_url": Setting(
        "CI_BOT_DOCKER_URL", "The Docker engine; default the environment's (DOCKER_HOST)."
    ),
    "github_webhook_secret": Setting(
        "CI_BOT_GITHUB_WEBHOOK_SECRET", "HMAC secret of the GitHub webhook.", secret=True
    ),
    "allow_unsigned_webhooks": Setting(
        "CI_BOT_ALLOW_UNSIGNED_WEBHOOKS",
        "true lets `serve` start without a webhook secret (local use only).",
        _flag,
    ),
    "allow_local_clones": Setting(
        "CI_BOT_ALLOW_LOCAL_CLONES",
        "true lets a delivery's clone_url be a file:// path (tests, local mirrors); "
        "otherwise only https:// URLs are fetched.",
        _flag,
    ),
    "github_app_id": Setting("CI_BOT_GITHUB_APP_ID", "GitHub App id."),
    "github_private_key_file": Setting(
        "CI_BOT_GITHUB_PRIVATE_KEY_FILE", "The GitHub App's private key (PEM file).", Path
    ),
    "github_token": Setting(
        "CI_BOT_GITHUB_TOKEN",
        "A personal token instead of an App (reports as commit statuses).",
        secret=True,
    ),
    "github_api_url": Setting(
        "CI_BOT_GITHUB_API_URL", "GitHub's API; GitHub Enterprise: https://HOST/api/v3.", _url
    ),
    "github_oauth_client_id": Setting(
        "CI_BOT_GITHUB_OAUTH_CLIENT_ID",
        "OAuth App client id: lets people sign in to the UI with GitHub.",
    ),
    "github_oauth_client_secret": Setting(
        "CI_BOT_GITHUB_OAUTH_CLIENT_SECRET", "That OAuth App's client secret.", secret=True
    ),
    "slack_token": Setting("CI_BOT_SLACK_TOKEN", "Slack bot token (xoxb-...).", secret=True),
    "slack_signing_secret": Setting(
        "CI_BOT_SLACK_SIGNING_SECRET", "Slack signing secret, for interactions.", secret=True
    ),
    "slack_channel": Setting("CI_BOT_SLACK_CHANNEL", "Default Slack channel for pipelines."),
    "slack_api_url": Setting("CI_BOT_SLACK_API_URL", "Slack's Web API base URL.", _url),
    "slack_users": Setting(
        "CI_BOT_SLACK_USERS",
        "Which GitHub user each Slack user is: U0123ABCD=octocat,U0456EFGH=hubot. A Slack "
        "click reruns only for a listed user GitHub lets push to the repository.",
        _slack_users,
    ),
    "ui_tokens": Setting(
        "CI_BOT_UI_TOKENS", "Comma-separated sign-in tokens for the web UI.", _tokens, secret=True
    ),
    "broker_url": Setting(
        "CI_BOT_BROKER_URL",
        "Set: Execs run on `ci-bot worker`s over this Celery broker (redis://…); "
        "the store must then be PostgreSQL.",
        secret=True,
    ),
    "visibility_timeout": Setting(
        "CI_BOT_VISIBILITY_TIMEOUT",
        "Seconds before the broker hands a task whose worker went silent to another worker: "
        "the longest a lost worker goes unnoticed.",
        _positive_int,
    ),
    "signing_key": Setting(
        "CI_BOT_SIGNING_KEY", "OpenSSH ed25519 private key file for artifact signing.", Path
    ),
    "public_badges": Setting(
        "CI_BOT_PUBLIC_BADGES",
        "true lets anyone fetch /badge/OWNER/REPO.svg (README images); otherwise a badge "
        "needs a signed-in viewer who may read the repository.",
        _flag,
    ),
    "retention_days": Setting(
        "CI_BOT_RETENTION_DAYS",
        "Pipelines finished longer ago than this are archived: their source snapshot, "
        "$CI_DATA, logs and workspace images are removed, their record stays.",
        _positive_int,
    ),
}


@dataclass(frozen=True)
class Settings:
    """Every setting, typed; secrets are left out of ``repr`` so they never reach a log."""

    data_dir: Path
    database_url: str = field(repr=False)
    secrets_file: Path
    secret_key_file: Path
    max_parallel: int = os.cpu_count() or 2
    public_url: str = "http://localhost:8080"
    allow_docker_socket: bool = False
    docker_url: str | None = None
    registry_auth_file: Path | None = None
    default_mem: int = 4 * 2**30
    max_mem: int | None = None
    default_pids: int = 1024
    max_pids: int = 4096
    log_limit: int = 2**30
    github_webhook_secret: str = field(default="", repr=False)
    allow_unsigned_webhooks: bool = False
    allow_local_clones: bool = False
    github_app_id: str = ""
    github_private_key_file: Path | None = None
    github_token: str = field(default="", repr=False)
    github_api_url: str = "https://api.github.com"
    github_oauth_client_id: str = ""
    github_oauth_client_secret: str = field(default="", repr=False)
    slack_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_channel: str = ""
    slack_api_url: str = "https://slack.com/api"
    slack_users: tuple[tuple[str, str], ...] = ()
    ui_tokens: tuple[str, ...] = field(default=(), repr=False)
    broker_url: str = field(default="", repr=False)
    visibility_timeout: int = 300
    signing_key: Path | None = None
    retention_days: int = 90
    public_badges: bool = False
    secret_key: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``CI_BOT_*`` variables; ``overrides`` win (tests, CLI options)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, setting in SETTINGS.items():
            raw = environ.get(setting.env, "").strip()
            if not raw:
                continue
            try:
                values[name] = setting.parse(raw)
            except ValueError as error:
                shown = "***" if setting.secret else raw
                problems.append(f"{setting.env}={shown}: {error}")
        if problems:
            raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
        values.update(overrides)
        data_dir = Path(values.get("data_dir") or _default_data_dir()).resolve()
        values["data_dir"] = data_dir
        values.setdefault("database_url", f"sqlite:///{data_dir / 'ci-bot.sqlite'}")
        values.setdefault("secrets_file", data_dir / "secrets.env")
        values.setdefault("secret_key_file", data_dir / "secret.key")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
