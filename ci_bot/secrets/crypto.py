"""The secret store's encryption at rest: Fernet (AES-128-CBC with HMAC-SHA256).

The key is ``CI_BOT_SECRET_KEY`` or, when that is unset, the file
``CI_BOT_SECRET_KEY_FILE`` (default ``secret.key`` in the data dir), which the
first ``ci-bot secrets set`` creates, readable by its owner only.  Each value is
sealed together with its repository and name, so a ciphertext copied onto
another row (another repository's secret) is refused instead of handed out.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ci_bot.errors import SecretError
from ci_bot.settings import Settings

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

logger = logging.getLogger(__name__)


# cryptography is imported where a key is used: a pipeline without secrets (a plain
# `ci-bot run`) never decrypts anything and does not pay for loading it.


def is_fernet_key(text: str) -> bool:
    from cryptography.fernet import Fernet

    try:
        Fernet(text.encode())
    except ValueError:
        return False
    return True


def load_key(settings: Settings, *, create: bool = False) -> Fernet | None:
    """The store's key; None when there is none yet and ``create`` is false."""
    from cryptography.fernet import Fernet

    if settings.secret_key:
        return Fernet(settings.secret_key.encode())  # checked by Settings already
    path = settings.secret_key_file
    if not path.exists():
        if not create:
            return None
        _create_key_file(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretError(f"cannot read the secret store's key file {path}: {error}") from None
    if not is_fernet_key(text):
        raise SecretError(
            f"{path} does not hold a Fernet key (44 characters of url-safe base64); "
            "restore the key the secrets were stored with"
        )
    if path.stat().st_mode & 0o077:
        logger.warning("%s is readable by other users; chmod 600 it", path)
    return Fernet(text.encode())


def _create_key_file(path: Path) -> None:
    """A new key in ``path``, 0600 from the start; if another process made it
    meanwhile, theirs is kept."""
    from cryptography.fernet import Fernet

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(Fernet.generate_key() + b"\n")
    logger.info("made a new secret store key in %s", path)


def seal(key: Fernet, repo: str, name: str, value: str) -> str:
    payload = json.dumps({"repo": repo, "name": name, "value": value})
    return key.encrypt(payload.encode()).decode("ascii")


def unseal(key: Fernet, repo: str, name: str, token: str, key_origin: str) -> str:
    """The value sealed in ``token`` for ``repo``'s ``name``; a sentence when the key
    is not the one it was sealed with or the token belongs to another secret."""
    from cryptography.fernet import InvalidToken

    try:
        payload = json.loads(key.decrypt(token.encode()))
    except InvalidToken:
        raise SecretError(
            f"secret {name} of {repo} cannot be decrypted with the key from {key_origin}: "
            "it was stored with another key. Set CI_BOT_SECRET_KEY (or CI_BOT_SECRET_KEY_FILE) "
            "to that key, or `ci-bot secrets rm` and `set` it again"
        ) from None
    if payload.get("repo") != repo or payload.get("name") != name:
        raise SecretError(
            f"secret {name} of {repo} holds another secret's value (the database was "
            "edited by hand?); `ci-bot secrets rm` and `set` it again"
        )
    return str(payload["value"])


def key_origin(settings: Settings) -> str:
    """Where the key comes from, for messages."""
    return "CI_BOT_SECRET_KEY" if settings.secret_key else str(settings.secret_key_file)
