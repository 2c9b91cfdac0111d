"""Scheduled pipelines: ``[[cron]]`` entries fire at their minute (UTC).

Once a minute the trigger looks at every repository the bot has built from
GitHub, reads the conducto.cfg of its default branch's head, and for each cron
entry whose schedule fires this minute stores a delivery and queues it, like a
webhook.  The delivery's id names (repository, entry, minute), so each firing
happens once, even across a restart or with two bots on one database; the
launch itself then follows the usual path (config read at the commit, duplicate
policy, check runs).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ci_bot.background import Periodic
from ci_bot.errors import CiBotError
from ci_bot.github.bot import GitHubBot
from ci_bot.github.events import Repo
from ci_bot.github.launching import REPO_META, LaunchRequest
from ci_bot.tree.config import parse_config
from ci_bot.tree.select import Event

logger = logging.getLogger(__name__)

SOURCE = "cron"


@dataclasses.dataclass(frozen=True)
class ScheduledRun:
    repo: Repo
    branch: str
    at: datetime


def request_for_cron(run: ScheduledRun, delivery: str) -> LaunchRequest:
    event = Event("cron", branch=run.branch, repo=run.repo.full_name, at=run.at)
    return LaunchRequest(
        repo=run.repo, event=event, ref=f"refs/heads/{run.branch}", delivery=delivery
    )


def scheduled_run(payload: dict[str, Any]) -> ScheduledRun:
    return ScheduledRun(
        repo=Repo(**payload["repo"]),
        branch=str(payload["branch"]),
        at=datetime.fromisoformat(payload["at"]),
    )


def due_runs(bot: GitHubBot, minute: datetime) -> list[tuple[str, ScheduledRun]]:
    """(delivery id, run) for every cron entry of every known repository due at ``minute``."""
    due: list[tuple[str, ScheduledRun]] = []
    for info in bot.store.meta_values(REPO_META):
        repo = Repo(**info)
        try:
            config = _default_branch_config(bot, repo)
        except CiBotError as error:  # one unreachable or broken repository stops no other
            logger.warning("cron: skipping %s: %s", repo.full_name, bot.mask(str(error)))
            continue
        for entry in config:
            if entry.schedule is not None and entry.schedule.matches(minute):
                branch = entry.branch or repo.default_branch
                delivery = f"cron:{repo.full_name}:{entry.index}:{minute:%Y-%m-%dT%H:%M}"
                due.append((delivery, ScheduledRun(repo, branch, minute)))
    return due


def _default_branch_config(bot: GitHubBot, repo: Repo) -> list[Any]:
    bot.fetch(repo)
    sha = bot.mirrors.resolve(repo.full_name, f"refs/heads/{repo.default_branch}")
    found = bot.mirrors.read_config(repo.full_name, sha)
    if found is None:
        return []
    name, text = found
    return parse_config(text, file=name).entries_for("cron")


def fire(bot: GitHubBot, minute: datetime, job: str) -> int:
    """Store and queue the runs due at ``minute``; the count newly queued."""
    queued = 0
    for delivery, run in due_runs(bot, minute):
        payload = json.dumps(
            {"repo": dataclasses.asdict(run.repo), "branch": run.branch, "at": run.at.isoformat()}
        )
        if bot.store.record_delivery(delivery, SOURCE, "cron", payload):
            bot.services.queue.submit(job, lane=run.repo.full_name, delivery=delivery)
            queued += 1
    return queued


class CronTrigger(Periodic):
    """Wakes at each minute's start and fires what is due."""

    name = "cron"

    def __init__(self, bot: GitHubBot, job: str) -> None:
        super().__init__()
        self.bot, self.job = bot, job
        self._minute = datetime.min

    def delay(self) -> float:
        now = datetime.now(UTC).replace(tzinfo=None)
        self._minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return (self._minute - now).total_seconds()

    def tick(self) -> None:
        fire(self.bot, self._minute, self.job)
