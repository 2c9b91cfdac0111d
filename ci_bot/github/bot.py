"""What the GitHub handlers share: the services, the mirrors and the API.

"Is a pipeline with this key active? then launch" is one step under the store's
lock for that key (``launching``), so two deliveries for one pull request cannot
both win, while other keys launch in parallel.  ``fetch`` goes through the worker
thread's ``FetchBatch`` when one is open (``fetches``), ``snapshot`` through its
``ReadBatch`` (``reads``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from ci_bot.errors import IntegrationError
from ci_bot.git import Mirrors, Snapshot, mask
from ci_bot.github.events import Repo
from ci_bot.github.fetches import FetchBatch
from ci_bot.github.reads import ReadBatch
from ci_bot.secrets.masking import SecretValues, text_masker
from ci_bot.settings import Settings
from ci_bot.store.store import Store
from ci_bot.tree.changes import ChangeSet
from integrations.github.api import GitHubApi

if TYPE_CHECKING:
    from ci_bot.services import Services

logger = logging.getLogger(__name__)


@dataclass
class GitHubBot:
    services: Services
    api: GitHubApi | None
    mirrors: Mirrors
    mask: Callable[[str], str]
    _thread: threading.local = field(default_factory=threading.local)

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def clone_url(self, repo: Repo) -> str:
        """The clone URL, carrying a token for HTTPS when the bot has one."""
        parts = urlsplit(repo.clone_url)
        if self.api is None or parts.scheme != "https" or "@" in parts.netloc:
            return repo.clone_url
        token = self.api.tokens.token(repo.installation)
        netloc = f"x-access-token:{quote(token, safe='')}@{parts.netloc}"
        return urlunsplit(parts._replace(netloc=netloc))

    def fetch(self, repo: Repo, refs: Sequence[str] = ()) -> None:
        """Bring ``repo``'s branches, tags and ``refs`` into its mirror, once per batch."""
        url = self.clone_url(repo)
        batch: FetchBatch | None = getattr(self._thread, "batch", None)
        if batch is None:
            self.mirrors.fetch(repo.full_name, url, refs)
        else:
            batch.fetch(self.mirrors, repo.full_name, url, refs)

    def snapshot(self, repo: str, ref: str) -> Snapshot:
        """``mirrors.snapshot``, through the worker thread's ``ReadBatch`` when one is open."""
        reads: ReadBatch | None = getattr(self._thread, "reads", None)
        if reads is None:
            return self.mirrors.snapshot(repo, ref)
        return reads.snapshot(self.mirrors, repo, ref)

    def changes_read(self, repo: str, before: str, sha: str) -> ChangeSet | None:
        """A push's changes since ``before`` when the open ``ReadBatch`` read them."""
        reads: ReadBatch | None = getattr(self._thread, "reads", None)
        return None if reads is None else reads.changes(repo, before, sha)

    @contextmanager
    def fetching(self, batch: FetchBatch, reads: ReadBatch | None = None) -> Iterator[None]:
        """``fetch`` calls in this thread share ``batch``, and ``snapshot`` calls
        ``reads``, until the block ends."""
        self._thread.batch, self._thread.reads = batch, reads
        try:
            yield
        finally:
            self._thread.batch = self._thread.reads = None

    def comment(self, repo: Repo, number: int, text: str) -> bool:
        """Post a comment; a GitHub failure is logged (it never fails the caller's work)."""
        if self.api is None:
            logger.warning(
                "cannot comment on %s#%d: no GitHub API configured", repo.full_name, number
            )
            return False
        try:
            self.api.comment(repo.full_name, repo.installation, number, self.mask(text))
        except IntegrationError as error:
            logger.warning("commenting on %s#%d failed: %s", repo.full_name, number, error)
            return False
        return True

    def react(self, repo: Repo, comment_id: int, content: str) -> None:
        if self.api is None:
            return
        try:
            self.api.react(repo.full_name, repo.installation, comment_id, content)
        except IntegrationError as error:
            logger.warning("reacting to comment %d failed: %s", comment_id, error)


def make_mask(secrets: Mapping[str, str] | SecretValues) -> Callable[[str], str]:
    """Hide the secrets (each form of them: ``ci_bot/secrets/masking.py``) and URL
    credentials in text bound for GitHub."""
    hide_secrets = text_masker(secrets)

    def hide(text: str) -> str:
        return mask(hide_secrets(text))

    return hide
