"""Registry credentials: the operator's Docker ``config.json``, looked up per registry host.

Credentials belong to whoever runs the bot, never to a repository: they come from
``CI_BOT_REGISTRY_AUTH_FILE`` in Docker's own format::

    {"auths": {"registry.example.com:5000": {"auth": "base64(user:password)"},
               "https://index.docker.io/v1/": {"username": "me", "password": "…"}}}

Pure apart from reading that one file; the values never reach a log or a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docker.auth import resolve_repository_name
from docker.errors import InvalidRepository
from docker.utils import parse_repository_tag

from ci_bot.errors import ExecutorError

logger = logging.getLogger(__name__)

DOCKER_HUB = "docker.io"
_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def auth_config(self) -> dict[str, str]:
        """The shape docker-py's ``pull(auth_config=…)`` takes."""
        return {"username": self.username, "password": self.password}


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials by registry host (``127.0.0.1:5000``, ``docker.io``)."""

    by_host: Mapping[str, Credentials] = field(default_factory=dict)

    def for_image(self, image: str) -> Credentials | None:
        return self.by_host.get(registry_host(image))

    def has_credentials_for(self, image: str) -> bool:
        return self.for_image(image) is not None


def registry_host(image: str) -> str:
    """The registry an image name is pulled from: ``docker.io`` when it names none."""
    repository, _ = parse_repository_tag(image)
    try:
        index, _ = resolve_repository_name(repository)
    except InvalidRepository:
        return DOCKER_HUB
    return normalise_host(index)


def normalise_host(key: str) -> str:
    """``https://index.docker.io/v1/`` → ``docker.io``; ``http://h:5000/`` → ``h:5000``."""
    host = key.strip().removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    return DOCKER_HUB if host in _HUB_ALIASES else host


def load_registry_auth(path: Path | None) -> RegistryAuth:
    """The credentials in ``path`` (none when unset); a broken file is an ExecutorError."""
    if path is None:
        return RegistryAuth()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExecutorError(f"cannot read the registry auth file {path}: {error}") from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        raise ExecutorError(f'the registry auth file {path} has no "auths" table')
    found: dict[str, Credentials] = {}
    for key, entry in auths.items():
        credentials = _credentials(entry)
        if credentials is None:
            logger.warning("%s: the entry for %s has no usable auth; ignored", path, key)
            continue
        found[normalise_host(key)] = credentials
    return RegistryAuth(found)


def _credentials(entry: Any) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return Credentials(entry["username"], entry["password"])
    encoded = entry.get("auth")
    if not isinstance(encoded, str):
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return Credentials(user, password) if sep else None
