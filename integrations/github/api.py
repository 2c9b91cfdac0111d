"""The GitHub endpoints ci-bot uses, each one call through ``GitHubClient``.

Checks and commit statuses report pipelines; comments, reactions, permissions
and pull requests serve the comment commands and fork approval.  Every method
raises ``IntegrationError`` (already retried) or returns plain values.  Every
text sent passes through ``printable``: branch names and node output carry no
raw control characters into check runs, statuses or comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ci_bot.errors import IntegrationError
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

    def _call(self, method: str, path: str, installation: int | None, body: Any = None) -> Any:
        sent = None if body is None else printable_all(body)
        return self.client.request(method, path, self.tokens.token(installation), sent)

    # --- checks and statuses ------------------------------------------------------------

    def create_check_run(self, repo: str, installation: int | None, body: dict[str, Any]) -> int:
        answer = self._call("POST", f"/repos/{repo}/check-runs", installation, body)
        return int(_field(answer, "id"))

    def update_check_run(
        self, repo: str, installation: int | None, check_run_id: int, body: dict[str, Any]
    ) -> None:
        self._call("PATCH", f"/repos/{repo}/check-runs/{check_run_id}", installation, body)

    def create_status(
        self, repo: str, installation: int | None, sha: str, body: dict[str, Any]
    ) -> None:
        self._call("POST", f"/repos/{repo}/statuses/{sha}", installation, body)

    # --- conversation -------------------------------------------------------------------

    def comment(self, repo: str, installation: int | None, number: int, text: str) -> None:
        body = {"body": f"{text}\n\n{BOT_MARKER}"}
        self._call("POST", f"/repos/{repo}/issues/{number}/comments", installation, body)

    def react(self, repo: str, installation: int | None, comment_id: int, content: str) -> None:
        path = f"/repos/{repo}/issues/comments/{comment_id}/reactions"
        self._call("POST", path, installation, {"content": content})

    def role(self, repo: str, installation: int | None, user: str) -> str:
        """The user's role on the repository: admin, maintain, write, triage, read or none."""
        path = f"/repos/{repo}/collaborators/{quote(user, safe='')}/permission"
        try:
            answer = self._call("GET", path, installation)
        except GitHubError as error:
            if error.status == 404:  # no such user
                return "none"
            raise
        return str(answer.get("role_name") or answer.get("permission") or "none")

    def pull(self, repo: str, installation: int | None, number: int) -> PullInfo:
        answer = self._call("GET", f"/repos/{repo}/pulls/{number}", installation)
        head, base = _field(answer, "head"), _field(answer, "base")
        head_repo = head.get("repo") or {}
        return PullInfo(
            number=number,
            state=str(_field(answer, "state")),
            head_sha=str(_field(head, "sha")),
            head_ref=str(_field(head, "ref")),
            head_repo=str(head_repo.get("full_name") or ""),
            base_ref=str(_field(base, "ref")),
            author=str((answer.get("user") or {}).get("login") or ""),
            draft=bool(answer.get("draft")),
        )


def _field(answer: Any, name: str) -> Any:
    if not isinstance(answer, dict) or name not in answer:
        raise IntegrationError(f"GitHub's answer has no {name!r}")
    return answer[name]


def make_api(settings: Settings) -> GitHubApi | None:
    """The API as the settings configure it; None when neither an App nor a token is set."""
    tokens = token_source(settings)
    if tokens is None:
        return None
    return GitHubApi(GitHubClient(settings.github_api_url), tokens)
