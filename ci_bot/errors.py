"""Every error ci-bot raises on purpose, in one place.

CiBotError                 base: a sentence a person can act on, never a traceback
├── ConfigError            conducto.cfg (or a generated tree) is wrong; holds every problem
├── WebhookError           a delivery we refuse (bad signature, malformed body)
├── ExecutorError          the container infrastructure failed (image missing, daemon gone)
├── SigningError           a node's `sign` could not be done (no key, nothing matched)
├── ReleaseError           a node's `release` could not be published (nothing matched, GitHub)
├── SecretError            the secret store refused or cannot decrypt (short value, wrong key)
└── IntegrationError       GitHub or Slack answered with an error
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class CiBotError(Exception):
    """Base of every error ci-bot raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration, located as precisely as we can."""

    file: str
    line: int
    message: str
    key: str = ""
    column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(CiBotError):
    """A configuration is invalid; ``problems`` lists everything found, in line order."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.file, p.line, p.column or 0)))
        super().__init__("\n".join(str(p) for p in self.problems))


class WebhookError(CiBotError):
    """A webhook delivery that is refused; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


class ExecutorError(CiBotError):
    """The infrastructure that runs containers failed; the message says what to do."""


class SigningError(CiBotError):
    """Signing a node's artifacts failed; the node ends in error with this sentence."""


class ReleaseError(CiBotError):
    """Publishing a node's release failed; the node ends in error with this sentence."""


class SecretError(CiBotError):
    """The secret store refused a value or cannot read its own; never holds a value."""


class IntegrationError(CiBotError):
    """An external service (GitHub, Slack) answered with an error."""
