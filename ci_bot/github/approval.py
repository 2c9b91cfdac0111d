"""Pull requests from forks: never given secrets, and run only when someone trusted says so.

A fork's pipeline is always launched untrusted (its Execs get no secrets).  When
the fork's author may not write to the repository, nothing runs until a person
who may comments ``/ok-to-test``; that approval is for the head commit of that
moment, so a later push needs a new one.  Without a GitHub API to ask, nobody's
permission can be known, so forks wait.
"""

from __future__ import annotations

import logging

from ci_bot.github.bot import GitHubBot
from ci_bot.github.commands import may_command
from ci_bot.github.events import PullRequest

logger = logging.getLogger(__name__)


def must_wait(bot: GitHubBot, pr: PullRequest) -> bool:
    """Whether this pull request's head needs a ``/ok-to-test`` before anything runs."""
    if not pr.from_fork:
        return False
    if bot.api is None:
        return True
    role = bot.api.role(pr.repo.full_name, pr.repo.installation, pr.author)
    return not may_command(role)


def ask_for_approval(bot: GitHubBot, pr: PullRequest) -> str:
    bot.comment(
        pr.repo,
        pr.number,
        f"Thanks, @{pr.author}! This pull request comes from a fork, so its checks wait "
        f"for someone with write access to {pr.repo.full_name} to look at it and comment "
        f"`/ok-to-test`. That runs commit {pr.head_sha[:12]}; a later push needs a new "
        "`/ok-to-test`. Secrets are never given to pull requests from forks.",
    )
    return f"pull request #{pr.number} from a fork waits for /ok-to-test at {pr.head_sha[:12]}"
