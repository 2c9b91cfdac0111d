"""Carrying out comment commands on a pull request, for people allowed to give them.

The permission is GitHub's answer for the commenter (write, maintain or admin:
see ``commands.may_command``); anyone else gets a polite reply and nothing runs.
Done commands are acknowledged with a 👍 reaction; ones that cannot be done get
a reply saying why.
"""

from __future__ import annotations

import logging

from ci_bot.engine.control import rerun_failed
from ci_bot.github.bot import GitHubBot
from ci_bot.github.commands import Command, may_command, refusal
from ci_bot.github.controls import pr_pipelines
from ci_bot.github.events import CommentCommands, PullRequest
from ci_bot.github.launching import Deferred, launch_request, request_for_pr
from ci_bot.store.store import NotFound
from integrations.github.api import PullInfo

logger = logging.getLogger(__name__)


class CommandFailed(Exception):
    """A command that cannot be carried out; the message is the reply."""


def handle_comment(bot: GitHubBot, work: CommentCommands) -> str:
    if bot.api is None:
        return "commands need the GitHub API (an App or a token) to check who gave them"
    repo = work.repo
    role = bot.api.role(repo.full_name, repo.installation, work.user)
    if not may_command(role):
        bot.comment(repo, work.number, refusal(work.user, repo.full_name, work.commands[0]))
        return f"refused: {work.user} is {role} on {repo.full_name}"
    outcomes = []
    for command in work.commands:
        try:
            outcomes.append(f"{command}: {_run(bot, work, command)}")
        except CommandFailed as failed:
            bot.comment(repo, work.number, f"@{work.user}, `{command}`: {failed}")
            outcomes.append(f"{command}: {failed}")
            bot.react(repo, work.comment_id, "confused")
            return "; ".join(outcomes)
    bot.react(repo, work.comment_id, "+1")
    return "; ".join(outcomes)


def _run(bot: GitHubBot, work: CommentCommands, command: Command) -> str:
    actor = f"github:{work.user}"
    if command.name in ("rerun-all", "ok-to-test"):
        return _launch_head(bot, work)
    pipeline_id = _latest(bot, work)
    if command.name == "rerun":
        reset = rerun_failed(bot.store, pipeline_id, actor=actor)
        if not reset:
            state = bot.store.pipeline(pipeline_id).state.value
            raise CommandFailed(f"nothing failed in pipeline {pipeline_id} ({state})")
    else:
        try:
            reset = bot.store.reset(pipeline_id, command.path, actor=actor)
        except NotFound:
            raise CommandFailed(f"pipeline {pipeline_id} has no node {command.path}") from None
    bot.services.engine.wake()
    return f"pipeline {pipeline_id}: reset {', '.join(reset)}"


def _head(bot: GitHubBot, work: CommentCommands) -> PullInfo:
    assert bot.api is not None
    pull = bot.api.pull(work.repo.full_name, work.repo.installation, work.number)
    if pull.state != "open":
        raise CommandFailed(f"#{work.number} is {pull.state}; nothing runs for it")
    return pull


def _latest(bot: GitHubBot, work: CommentCommands) -> int:
    """The latest pipeline for the pull request's current head."""
    head = _head(bot, work).head_sha
    pipelines = pr_pipelines(bot, work.repo.full_name, work.number)
    at_head = [p for p in pipelines if bot.store.meta(p).get("github_sha") == head]
    if not at_head:
        raise CommandFailed(
            f"no pipeline has run for the head commit {head[:12]} yet; `/rerun all` starts one"
        )
    return at_head[-1]


def _launch_head(bot: GitHubBot, work: CommentCommands) -> str:
    """A new pipeline at the head: the commenter's word stands for this commit only."""
    pull = _head(bot, work)
    pr = PullRequest(
        repo=work.repo,
        action="command",
        number=work.number,
        head_sha=pull.head_sha,
        head_ref=pull.head_ref,
        head_repo=pull.head_repo,
        base_ref=pull.base_ref,
        author=pull.author,
    )
    outcome = launch_request(bot, request_for_pr(pr, delivery=f"comment {work.comment_id}"))
    if isinstance(outcome, Deferred):
        raise CommandFailed(f"the new pipeline {outcome.reason}")
    if not outcome.startswith("pipeline "):
        raise CommandFailed(outcome)
    return outcome
