"""The older secret store: ``CI_BOT_SECRETS_FILE``, ``NAME=value`` lines, in plain text.

Every repository gets these (there is no scope in the format), which is why
``ci-bot secrets set`` is the way to store secrets now; the file keeps working
for local use and ``ci-bot run``.  Bad lines and values too short to mask are
skipped with a warning that names the line, never the value.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ci_bot.secrets.values import refusal
from ci_bot.tree.params import ENV_NAME

logger = logging.getLogger(__name__)


def load_secrets(path: Path) -> dict[str, str]:
    """The secrets in ``path`` (absent file: none)."""
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
        name, value = name.strip(), value.strip()
        if not sep or not ENV_NAME.fullmatch(name):
            logger.warning("%s:%d: not a NAME=value line; skipped", path, number)
            continue
        problem = refusal(value)
        if problem:
            logger.warning("%s:%d: secret %s refused: %s", path, number, name, problem)
            continue
        secrets[name] = value
    return secrets
