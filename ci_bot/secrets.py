"""The bot's secret store: ``NAME=value`` lines in a file only the bot reads.

Nodes name the secrets they need (``secrets = ["DEPLOY_TOKEN"]``); the values
come from here, reach the container as environment variables and are masked in
every log.  Values never appear in a message, a log line or an exception.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ci_bot.tree.params import ENV_NAME

logger = logging.getLogger(__name__)


def load_secrets(path: Path) -> dict[str, str]:
    """The secrets in ``path`` (absent file: none). Bad lines are skipped with a warning."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    secrets: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        name = name.strip()
        if not sep or not ENV_NAME.fullmatch(name):
            logger.warning("%s:%d: not a NAME=value line; skipped", path, number)
            continue
        secrets[name] = value.strip()
    return secrets
