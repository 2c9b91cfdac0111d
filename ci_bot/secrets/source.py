"""The seam between the engine (and every masking sink) and wherever secrets live.

The engine asks one question per pipeline, ``for_pipeline``: the secrets this
pipeline's repository has, for its event and branch.  Sinks that show text to
people ask ``all_values``: everything to hide.  ``SecretStore`` answers from the
database; ``FixedSecrets`` from a plain mapping given to every repository (tests,
and an ``Engine(secrets={...})`` built by hand).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ci_bot.store.records import Pipeline


class SecretSource(Protocol):
    def for_pipeline(self, pipeline: Pipeline) -> dict[str, str]:
        """The secrets ``pipeline`` may be given, by name (its repository's, in scope)."""
        ...

    def all_values(self) -> list[str]:
        """Every value a sink must hide, whichever repository it belongs to."""
        ...


class FixedSecrets:
    """The same secrets for every pipeline."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._secrets = secrets  # not copied: a test may add one after building the engine

    def for_pipeline(self, pipeline: Pipeline) -> dict[str, str]:
        return dict(self._secrets)

    def all_values(self) -> list[str]:
        return list(self._secrets.values())


def as_source(secrets: SecretSource | Mapping[str, str] | None) -> SecretSource:
    """A source for what the engine was given: a source, or a plain mapping."""
    if secrets is None or isinstance(secrets, Mapping):
        return FixedSecrets(secrets or {})
    return secrets
