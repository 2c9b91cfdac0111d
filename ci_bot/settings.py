"""Typed settings from ``CI_BOT_*`` environment variables, read and checked once.

Each setting is declared once, with its default and help (datasette's
``SETTINGS``), so the docs can be checked against this table.  Every problem is
collected before raising, so a person fixes them all in one go.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ci_bot.errors import CiBotError


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


SETTINGS: dict[str, Setting] = {
    "data_dir": Setting(
        "CI_BOT_DATA_DIR", "Mirrors, workspaces, logs, data stores, the SQLite file.", Path
    ),
    "database_url": Setting(
        "CI_BOT_DATABASE_URL", "Any SQLAlchemy URL; default SQLite in the data dir."
    ),
    "max_parallel": Setting(
        "CI_BOT_MAX_PARALLEL", "Execs running at once on this host; default: cores.", _positive_int
    ),
    "public_url": Setting("CI_BOT_PUBLIC_URL", "The bot's address, for links in GitHub and Slack."),
    "allow_docker_socket": Setting(
        "CI_BOT_ALLOW_DOCKER_SOCKET",
        "true lets nodes with `requires_docker` mount the Docker socket.",
        _flag,
    ),
    "secrets_file": Setting(
        "CI_BOT_SECRETS_FILE",
        "NAME=value lines: the secret store for `secrets`; default secrets.env in the data dir.",
        Path,
    ),
    "docker_url": Setting(
        "CI_BOT_DOCKER_URL", "The Docker engine; default the environment's (DOCKER_HOST)."
    ),
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    max_parallel: int
    public_url: str
    allow_docker_socket: bool
    secrets_file: Path
    docker_url: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
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
                problems.append(f"{setting.env}={raw if not setting.secret else '***'}: {error}")
        if problems:
            raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
        values.update(overrides)
        return cls._with_defaults(values)

    @classmethod
    def _with_defaults(cls, values: dict[str, Any]) -> Settings:
        data_dir = Path(values.get("data_dir") or _default_data_dir()).resolve()
        values["data_dir"] = data_dir
        values.setdefault("database_url", f"sqlite:///{data_dir / 'ci-bot.sqlite'}")
        values.setdefault("max_parallel", os.cpu_count() or 2)
        values.setdefault("public_url", "http://localhost:8080")
        values.setdefault("allow_docker_socket", False)
        values.setdefault("secrets_file", data_dir / "secrets.env")
        values.setdefault("docker_url", None)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
