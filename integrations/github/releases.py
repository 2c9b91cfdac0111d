"""Publishing a tag's release on GitHub with PyGithub: the engine's ``Publisher``.

The release is found by its tag or created once (a concurrent creation by another
node of the same pipeline is found on the second look); each asset already there
under a name being uploaded is deleted first, so a rerun replaces the files
instead of failing on "already_exists".  The repository and installation come
from the pipeline's GitHub record (``github/launching.py``): a pipeline that did
not come from GitHub has no release to publish to.  One log line per call comes
from PyGithub's requester; every failure becomes a ``ReleaseError`` sentence.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable

import requests
from github import Auth, Github, GithubException, UnknownObjectException
from github.GitRelease import GitRelease
from github.Repository import Repository

from ci_bot.engine.releases import Asset, Release
from ci_bot.errors import IntegrationError, ReleaseError
from ci_bot.store.records import Pipeline
from ci_bot.store.store import Store
from integrations.github.auth import TokenSource

logger = logging.getLogger(__name__)

RETRIES = 3  # PyGithub retries 5xx and rate limits itself; a release is worth a few tries


class GitHubReleases:
    def __init__(
        self,
        api_url: str,
        tokens: TokenSource,
        store: Store,
        mask: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.tokens = tokens
        self.store = store
        self.mask = mask

    def publish(self, pipeline: Pipeline, release: Release) -> str:
        meta = self.store.meta(pipeline.id)
        repo_name = meta.get("github_repo")
        if not repo_name:
            raise ReleaseError(
                f"release: not published: pipeline {pipeline.id} did not come from GitHub, "
                f"so it has no repository to publish {release.tag} to"
            )
        try:
            repo = self._repository(str(repo_name), meta.get("github_installation"))
            published = self._release(repo, release)
            for asset in release.assets:
                self._replace_asset(published, asset)
        except GithubException as error:
            raise ReleaseError(self._describe(error, release.tag, str(repo_name))) from None
        except (requests.RequestException, IntegrationError) as error:
            raise ReleaseError(f"release: GitHub could not be reached: {error}") from None
        logger.info("released %s of %s with %d assets", release.tag, repo_name, len(release.assets))
        return str(published.html_url)

    def _repository(self, name: str, installation: int | None) -> Repository:
        github = Github(
            auth=Auth.Token(self.tokens.token(installation)),
            base_url=self.api_url,
            retry=RETRIES,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,  # no GET /repos/NAME: the release calls say all that is needed
        )
        return github.get_repo(name)

    def _release(self, repo: Repository, release: Release) -> GitRelease:
        """The tag's release: found, or created with the notes."""
        try:
            return repo.get_release(release.tag)
        except UnknownObjectException:
            pass
        try:
            return repo.create_git_release(
                release.tag, name=release.name, message=self.mask(release.notes)
            )
        except GithubException as error:
            if error.status != 422:  # 422: another node created it meanwhile
                raise
            return repo.get_release(release.tag)

    def _replace_asset(self, published: GitRelease, asset: Asset) -> None:
        for existing in published.get_assets():
            if existing.name == asset.name:
                logger.info("replacing asset %s of release %s", asset.name, published.tag_name)
                existing.delete_asset()
        content_type = mimetypes.guess_type(asset.name)[0] or "application/octet-stream"
        published.upload_asset(str(asset.path), name=asset.name, content_type=content_type)

    def _describe(self, error: GithubException, tag: str, repo: str) -> str:
        message = error.data.get("message", "") if isinstance(error.data, dict) else ""
        words = f": {message}" if message else ""
        return self.mask(
            f"release: GitHub answered {error.status} while publishing {tag} of {repo}{words}"
        )
