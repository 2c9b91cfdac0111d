"""``SecretStore``: each repository's secrets, sealed in the bot's database.

Why the database and not an encrypted file: it is already the one place every
process of the bot reads (``serve``, ``run``, workers on other hosts with
PostgreSQL), it has the one write path with transactions, so a ``ci-bot secrets
set`` while ``serve`` runs is seen by the next execution, and nothing new has to
be locked, backed up or kept in step.  Only values are sealed: names and scopes
are not secret, and ``list`` needs no key.

The legacy ``CI_BOT_SECRETS_FILE`` is read too, once, and given to every
repository; a repository's own secret of the same name wins over it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ci_bot.errors import SecretError
from ci_bot.secrets.crypto import key_origin, load_key, seal, unseal
from ci_bot.secrets.legacy import load_secrets
from ci_bot.secrets.scope import Scope
from ci_bot.secrets.values import name_refusal, refusal, repo_key, repo_refusal
from ci_bot.settings import Settings
from ci_bot.store.records import Pipeline
from ci_bot.store.secret_records import SecretRecord
from ci_bot.store.store import Store

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

logger = logging.getLogger(__name__)

EVERY_REPOSITORY = "*"  # how `list` shows the legacy file's secrets


@dataclass(frozen=True)
class SecretInfo:
    """What ``ci-bot secrets list`` shows: never a value."""

    repo: str
    name: str
    scope: Scope
    updated_at: datetime | None  # None: from the legacy file


class SecretStore:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.legacy = load_secrets(settings.secrets_file)
        self._values: dict[str, str] = {}  # by sealed text: each is unsealed once
        self._unreadable: set[str] = set()  # warned of once

    # --- what the engine and the sinks ask ------------------------------------------------

    def for_pipeline(self, pipeline: Pipeline) -> dict[str, str]:
        """The legacy file's secrets and those of the pipeline's repository whose scope
        allows its event and branch; SecretError when one cannot be decrypted."""
        found = dict(self.legacy)
        for record in self.store.secret_records(repo_key(pipeline.repo)):
            if Scope(record.branches, record.events).allows(pipeline.event, pipeline.branch):
                found[record.name] = self._unseal(record)
        return found

    def all_values(self) -> list[str]:
        """Every value to hide.  One that cannot be decrypted is left out (with a
        warning): no node can be given it either."""
        values = list(self.legacy.values())
        for record in self.store.secret_records():
            try:
                values.append(self._unseal(record))
            except SecretError as error:
                if record.sealed not in self._unreadable:
                    self._unreadable.add(record.sealed)
                    logger.warning("%s", error)
        return values

    # --- what `ci-bot secrets` does --------------------------------------------------------

    def set(self, repo: str, name: str, value: str, scope: Scope | None = None) -> bool:
        """Seal and store ``repo``'s secret ``name`` (for every branch and event unless
        ``scope`` says otherwise); True when it replaced one."""
        scope = scope or Scope()
        problem = repo_refusal(repo) or name_refusal(name) or refusal(value)
        if problem:
            raise SecretError(problem)
        key = self._key(create=True)
        assert key is not None  # made when absent
        repo = repo_key(repo)
        sealed = seal(key, repo, name, value)
        return self.store.put_secret(repo, name, sealed, list(scope.branches), list(scope.events))

    def remove(self, repo: str, name: str) -> bool:
        return self.store.delete_secret(repo_key(repo), name)

    def describe(self, repo: str | None = None) -> list[SecretInfo]:
        """The secrets ``repo`` has (all, without it), then the legacy file's."""
        records = self.store.secret_records(None if repo is None else repo_key(repo))
        infos = [
            SecretInfo(r.repo, r.name, Scope(r.branches, r.events), r.updated_at) for r in records
        ]
        shadowed = {info.name for info in infos} if repo is not None else set()
        infos += [
            SecretInfo(EVERY_REPOSITORY, name, Scope(), None)
            for name in sorted(self.legacy)
            if name not in shadowed
        ]
        return infos

    # --- keys ------------------------------------------------------------------------------

    def _unseal(self, record: SecretRecord) -> str:
        if record.sealed not in self._values:
            key = self._key(create=False)
            if key is None:
                raise SecretError(
                    f"secret {record.name} of {record.repo} is stored, but there is no key to "
                    f"decrypt it: set CI_BOT_SECRET_KEY, or restore {key_origin(self.settings)}"
                )
            origin = key_origin(self.settings)
            self._values[record.sealed] = unseal(
                key, record.repo, record.name, record.sealed, origin
            )
        return self._values[record.sealed]

    def _key(self, *, create: bool) -> Fernet | None:
        # Read each time it is needed: `secrets set` may make the key file while
        # `serve` runs, and reading 45 bytes is nothing next to a container.
        return load_key(self.settings, create=create)
