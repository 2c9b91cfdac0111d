"""GitHub deliveries as typed events, and which of them ci-bot acts on.

``route(event, payload)`` is pure and cheap: the webhook handler calls it to
answer (202 for work, 200 for what is ignored, 400 for a payload missing what
its event needs or holding a value no job may use: see ``fields``), and the
queue worker calls it again on the stored payload, so a delivery stored before
a check existed fails with the same sentence instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ci_bot.errors import WebhookError
from ci_bot.github import fields
from ci_bot.github.commands import Command, parse_commands
from integrations.github.api import BOT_MARKER

ZERO_SHA = "0" * 40
PR_BUILD_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
IGNORED_EVENTS = frozenset(
    {
        "installation",
        "installation_repositories",
        "pull_request_review",
        "pull_request_review_comment",
    }
)
EVENTS = frozenset(
    {
        "ping",
        "push",
        "create",
        "delete",
        "pull_request",
        "issue_comment",
        "check_run",
        "check_suite",
    }
)


@dataclass(frozen=True)
class Repo:
    full_name: str
    clone_url: str
    default_branch: str
    installation: int | None


@dataclass(frozen=True)
class RefEvent:
    """push / create / delete, as one of the config's events (§1)."""

    repo: Repo
    name: str  # push | create-branch | create-tag | delete-branch | delete-tag
    ref: str  # the branch or tag name
    is_tag: bool
    sha: str  # "" when it must be resolved (create, delete)
    author: str
    before: str = ""  # a push's previous head: what its changes are measured from


@dataclass(frozen=True)
class PullRequest:
    repo: Repo
    action: str
    number: int
    head_sha: str
    head_ref: str
    head_repo: str  # "" when the fork is gone
    base_ref: str
    author: str

    @property
    def from_fork(self) -> bool:
        return self.head_repo != self.repo.full_name


@dataclass(frozen=True)
class CommentCommands:
    repo: Repo
    number: int
    comment_id: int
    user: str
    commands: tuple[Command, ...]


@dataclass(frozen=True)
class CheckRunRequest:
    repo: Repo
    action: str  # rerequested | rerun-failed
    check_run_id: int
    external_id: str
    head_sha: str
    user: str


@dataclass(frozen=True)
class CheckSuiteRequest:
    repo: Repo
    head_sha: str
    user: str


Work = RefEvent | PullRequest | CommentCommands | CheckRunRequest | CheckSuiteRequest


@dataclass(frozen=True)
class Ignored:
    reason: str


def route(event: str, payload: Mapping[str, Any], *, local_clones: bool = False) -> Work | Ignored:
    """What a delivery asks of ci-bot; WebhookError(400) when it lacks a needed field or
    holds a malformed one.  ``local_clones``: a ``file://`` clone URL is acceptable."""
    if event in IGNORED_EVENTS:
        return Ignored(f"{event} events need no action")
    if event == "ping":
        return Ignored("pong")
    handler = _ROUTES.get(event)
    if handler is None:
        known = ", ".join(sorted(EVENTS | IGNORED_EVENTS))
        raise WebhookError(f"unsupported event {event!r}; ci-bot handles: {known}")
    return handler(_Payload(event, payload, local_clones))


class _Payload:
    """Field access that turns a missing or mistyped field into a 400 naming it."""

    def __init__(self, event: str, data: Mapping[str, Any], local_clones: bool = False) -> None:
        self.event, self.data, self.local_clones = event, data, local_clones

    def get(self, dotted: str, kind: type | tuple[type, ...] = str) -> Any:
        value: Any = self.data
        for part in dotted.split("."):
            # a parsed payload holds dicts: checked first, as the ABC's isinstance is slow
            if not (type(value) is dict or isinstance(value, Mapping)) or part not in value:
                raise WebhookError(f"{self.event} delivery without {dotted}")
            value = value[part]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise WebhookError(f"{self.event} delivery: {dotted} has the wrong type")
        if isinstance(value, str):
            fields.unicode_text(f"{self.event} delivery: {dotted}", value)
        return value

    def checked(self, dotted: str, check: Callable[[str, str], str]) -> str:
        """A string field that must also pass ``check`` (one of ``fields``)."""
        return check(f"{self.event} delivery: {dotted}", self.get(dotted))

    def ref(self, dotted: str) -> str:
        return self.checked(dotted, fields.ref_name)

    def sha(self, dotted: str) -> str:
        return self.checked(dotted, fields.commit_sha)

    def optional(self, dotted: str, kind: type | tuple[type, ...] = str) -> Any:
        try:
            return self.get(dotted, kind)
        except WebhookError:
            return None

    def repo(self) -> Repo:
        installation = self.optional("installation.id", int)
        default_branch = self.optional("repository.default_branch")
        where = f"{self.event} delivery: repository.clone_url"
        return Repo(
            full_name=self.checked("repository.full_name", fields.full_name),
            clone_url=fields.clone_url(
                where, self.get("repository.clone_url"), allow_local=self.local_clones
            ),
            default_branch=self.ref("repository.default_branch") if default_branch else "main",
            installation=installation,
        )


def _push(p: _Payload) -> Work | Ignored:
    ref, after, repo = p.ref("ref"), p.sha("after"), p.repo()
    deleted = bool(p.optional("deleted", bool)) or after == ZERO_SHA
    created = bool(p.optional("created", bool))
    author = p.optional("pusher.name") or p.optional("sender.login") or ""
    before = p.sha("before") if p.optional("before") else ""
    if ref.startswith("refs/heads/"):
        name = "delete-branch" if deleted else "push"
        branch = ref.removeprefix("refs/heads/")
        return RefEvent(repo, name, branch, False, "" if deleted else after, author, before)
    if ref.startswith("refs/tags/"):
        tag = ref.removeprefix("refs/tags/")
        if deleted:
            return RefEvent(repo, "delete-tag", tag, True, "", author)
        if created:
            return RefEvent(repo, "create-tag", tag, True, after, author)
        return Ignored(f"tag {tag} moved; only created and deleted tags start pipelines")
    return Ignored(f"push to {ref}: neither a branch nor a tag")


def _create_or_delete(p: _Payload) -> Work | Ignored:
    ref, ref_type, repo = p.ref("ref"), p.get("ref_type"), p.repo()
    if ref_type not in ("branch", "tag"):
        return Ignored(f"{p.event} of a {ref_type}")
    name = f"{p.event}-{ref_type}"
    return RefEvent(repo, name, ref, ref_type == "tag", "", p.optional("sender.login") or "")


def _pull_request(p: _Payload) -> Work | Ignored:
    action = p.get("action")
    if action not in PR_BUILD_ACTIONS and action != "closed":
        return Ignored(f"pull_request {action} needs no action")
    if action != "closed" and p.optional("pull_request.draft", bool):
        return Ignored("draft pull request: its checks wait until it is ready for review")
    return PullRequest(
        repo=p.repo(),
        action=action,
        number=p.get("pull_request.number", int),
        head_sha=p.sha("pull_request.head.sha"),
        head_ref=p.ref("pull_request.head.ref"),
        head_repo=_head_repo(p),
        base_ref=p.ref("pull_request.base.ref"),
        author=p.get("pull_request.user.login"),
    )


def _head_repo(p: _Payload) -> str:
    """The head's repository; "" when the fork is gone (GitHub sends null)."""
    if p.optional("pull_request.head.repo.full_name") is None:
        return ""
    return p.checked("pull_request.head.repo.full_name", fields.full_name)


def _issue_comment(p: _Payload) -> Work | Ignored:
    action = p.get("action")
    if action != "created":
        return Ignored(f"comment {action}: only new comments are read for commands")
    if p.optional("issue.pull_request", Mapping) is None:
        return Ignored("a comment on an issue, not on a pull request")
    body = p.optional("comment.body") or ""
    if p.get("comment.user.type") == "Bot" or BOT_MARKER in body:
        return Ignored("a comment by a bot")
    commands = parse_commands(body)
    if not commands:
        return Ignored("no command in the comment")
    return CommentCommands(
        repo=p.repo(),
        number=p.get("issue.number", int),
        comment_id=p.get("comment.id", int),
        user=p.get("comment.user.login"),
        commands=tuple(commands),
    )


def _check_run(p: _Payload) -> Work | Ignored:
    action = p.get("action")
    if action == "requested_action":
        identifier = p.get("requested_action.identifier")
        if identifier != "rerun-failed":
            return Ignored(f"unknown check run action {identifier!r}")
        action = "rerun-failed"
    elif action != "rerequested":
        return Ignored(f"check_run {action} needs no action")
    return CheckRunRequest(
        repo=p.repo(),
        action=action,
        check_run_id=p.get("check_run.id", int),
        external_id=p.optional("check_run.external_id") or "",
        head_sha=p.sha("check_run.head_sha"),
        user=p.get("sender.login"),
    )


def _check_suite(p: _Payload) -> Work | Ignored:
    action = p.get("action")
    if action != "rerequested":
        return Ignored(f"check_suite {action} needs no action (pushes and pull requests do)")
    return CheckSuiteRequest(p.repo(), p.sha("check_suite.head_sha"), p.get("sender.login"))


_ROUTES = {
    "push": _push,
    "create": _create_or_delete,
    "delete": _create_or_delete,
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "check_run": _check_run,
    "check_suite": _check_suite,
}
