"""The GitHub endpoints ci-bot uses, each one PyGithub call through ``GitHubClient``.

Checks and commit statuses report pipelines; comments, reactions, permissions
and pull requests serve the comment commands and fork approval.  Every method
raises ``IntegrationError`` (already retried) or returns plain values.  The
``Github`` clients are lazy: a repository, issue, commit or check run is named by
its URL and acted on, never fetched first, so each method is one request.  Every
text sent passes through ``printable``: branch names and node output carry no
raw control characters into check runs, statuses or comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from github.IssueComment import IssueComment
from github.PullRequest import PullRequest
from github.Repository import Repository

from ci_bot.settings import Settings
from ci_bot.text import printable_all
from integrations.github.auth import TokenSource, token_source
from integrations.github.client import GitHubClient, GitHubError

BOT_MARKER = "<!-- ci-bot -->"  # in every comment ci-bot writes, so it never obeys itself


@dataclass(frozen=True)
class PullInfo:
    number: int
    state: str
    head_sha: str
    head_ref: str
    head_repo: str  # full name; "" when the fork was deleted
    base_ref: str
    author: str
    draft: bool


class GitHubApi:
    def __init__(self, client: GitHubClient, tokens: TokenSource) -> None:
        self.client = client
        self.tokens = tokens

    @property
    def mode(self) -> str:
        return self.tokens.mode

    def _repo(self, repo: str, installation: int | None) -> Repository:
        github = self.client.github(installation, lambda: self.tokens.token(installation))
        return github.get_repo(repo)  # lazy: no request

    # --- checks and statuses ------------------------------------------------------------

    def create_check_run(self, repo: str, installation: int | None, body: dict[str, Any]) -> int:
        sent = printable_all(body)
        run = self.client.call(
            "POST",
            f"/repos/{repo}/check-runs",
            lambda: self._repo(repo, installation).create_check_run(**sent),
        )
        return int(run.id)

    def update_check_run(
        self, repo: str, installation: int | None, check_run_id: int, body: dict[str, Any]
    ) -> None:
        sent = printable_all(body)
        self.client.call(
            "PATCH",
            f"/repos/{repo}/check-runs/{check_run_id}",
            lambda: self._repo(repo, installation).get_check_run(check_run_id).edit(**sent),
        )

    def create_status(
        self, repo: str, installation: int | None, sha: str, body: dict[str, Any]
    ) -> None:
        sent = printable_all(body)
        self.client.call(
            "POST",
            f"/repos/{repo}/statuses/{sha}",
            lambda: self._repo(repo, installation).get_commit(sha).create_status(**sent),
        )

    # --- conversation -------------------------------------------------------------------

    def comment(self, repo: str, installation: int | None, number: int, text: str) -> None:
        body = printable_all(f"{text}\n\n{BOT_MARKER}")
        self.client.call(
            "POST",
            f"/repos/{repo}/issues/{number}/comments",
            lambda: self._repo(repo, installation).get_issue(number).create_comment(body),
        )

    def react(self, repo: str, installation: int | None, comment_id: int, content: str) -> None:
        self.client.call(
            "POST",
            f"/repos/{repo}/issues/comments/{comment_id}/reactions",
            lambda: _issue_comment(self._repo(repo, installation), comment_id).create_reaction(
                content
            ),
        )

    def role(self, repo: str, installation: int | None, user: str) -> str:
        """The user's role on the repository: admin, maintain, write, triage, read or none."""
        try:
            return self.client.call(
                "GET",
                f"/repos/{repo}/collaborators/{user}/permission",
                lambda: self._repo(repo, installation).get_collaborator_role_name(user),
            )
        except GitHubError as error:
            if error.status == 404:  # no such user
                return "none"
            raise

    def pull(self, repo: str, installation: int | None, number: int) -> PullInfo:
        return self.client.call(
            "GET",
            f"/repos/{repo}/pulls/{number}",
            lambda: _pull_info(self._repo(repo, installation).get_pull(number)),
        )


def _issue_comment(repo: Repository, comment_id: int) -> IssueComment:
    """The comment named by its URL (PyGithub offers no lazy getter of one by id)."""
    return IssueComment(repo.requester, url=f"{repo.url}/issues/comments/{comment_id}")


def _pull_info(pull: PullRequest) -> PullInfo:
    head_repo = pull.head.repo
    return PullInfo(
        number=pull.number,
        state=pull.state,
        head_sha=pull.head.sha,
        head_ref=pull.head.ref,
        head_repo=head_repo.full_name if head_repo is not None else "",
        base_ref=pull.base.ref,
        author=pull.user.login if pull.user is not None else "",
        draft=bool(pull.draft),
    )


def make_api(settings: Settings) -> GitHubApi | None:
    """The API as the settings configure it; None when neither an App nor a token is set."""
    tokens = token_source(settings)
    if tokens is None:
        return None
    return GitHubApi(GitHubClient(settings.github_api_url), tokens)
