"""The queue job behind Slack's *Rerun failed* button: who clicked, may they, then rerun.

A Slack user counts as a GitHub user only through ``CI_BOT_SLACK_USERS``.  The
bot asks GitHub for that user's role on the pipeline's repository, exactly as
for a ``/rerun`` comment (``commands.may_command``: write, maintain or admin).
Anyone else is told why in a reply only they see, and nothing is reset.  The
question goes to GitHub, so it is asked here, in a queue worker, and not within
the three seconds Slack waits for the click's answer.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ci_bot.engine.control import rerun_failed
from ci_bot.errors import IntegrationError, WebhookError
from ci_bot.github import fields
from ci_bot.github.commands import may_command
from ci_bot.settings import Settings
from integrations.github.api import GitHubApi
from integrations.slack.respond import tell_clicker

if TYPE_CHECKING:
    from ci_bot.services import Services

logger = logging.getLogger(__name__)

JOB = "slack.rerun"


@dataclass(frozen=True)
class RerunClick:
    delivery: str
    pipeline_id: int
    user_id: str  # Slack's: U0123ABCD
    actor: str  # as run events record it: "slack:U0123ABCD (alice)"
    response_url: str

    def job(self) -> dict[str, Any]:
        return asdict(self)


def attach_slack_reruns(services: Services, api: GitHubApi | None) -> None:
    """Register the job; ``api`` is the GitHub API that answers who may push (or None)."""
    services.queue.register(JOB, lambda job: handle_rerun(services, api, RerunClick(**job)))


def github_login(settings: Settings, slack_user: str) -> str | None:
    """The GitHub login ``CI_BOT_SLACK_USERS`` gives this Slack user, or None."""
    return dict(settings.slack_users).get(slack_user)


def handle_rerun(services: Services, api: GitHubApi | None, click: RerunClick) -> None:
    """Rerun the pipeline's failed nodes if the clicker may; tell them why not otherwise."""
    try:
        refusal = _refusal(services, api, click)
    except IntegrationError as error:
        refusal = (
            f"ci-bot could not ask GitHub who may rerun pipeline {click.pipeline_id} "
            f"({error}), so nothing was rerun. Please try again in a minute."
        )
    if refusal is not None:
        logger.info("pipeline %s: Slack rerun by %s refused", click.pipeline_id, click.user_id)
        tell_clicker(click.response_url, services.settings.slack_api_url, refusal)
        services.store.finish_delivery(click.delivery, "handled", f"refused: {refusal}")
        return
    paths = rerun_failed(services.store, click.pipeline_id, click.actor)
    logger.info("pipeline %s: %s asked to rerun %s", click.pipeline_id, click.actor, paths)
    services.engine.wake()
    if services.hub is not None:
        services.hub.wake()
    outcome = f"rerun of pipeline {click.pipeline_id}: {len(paths)} Execs reset"
    services.store.finish_delivery(click.delivery, "handled", outcome)


def _refusal(services: Services, api: GitHubApi | None, click: RerunClick) -> str | None:
    """Why this click may not rerun (a sentence for the clicker), or None."""
    login = github_login(services.settings, click.user_id)
    if login is None:
        return (
            "Sorry, your Slack account is not linked to a GitHub user, so ci-bot cannot "
            "tell whether you may rerun this pipeline; nothing was rerun. An admin can add "
            "you to CI_BOT_SLACK_USERS, or you can comment /rerun on the pull request."
        )
    if api is None:
        return (
            "Reruns from Slack need ci-bot's GitHub App or token, to check who may rerun; "
            "none is set up, so nothing was rerun. Comment /rerun on the pull request instead."
        )
    repo, installation = _repository(services, click.pipeline_id)
    if repo is None:
        return (
            f"Pipeline {click.pipeline_id} was not built from a GitHub repository, so who may "
            "rerun it cannot be checked; nothing was rerun."
        )
    role = api.role(repo, installation, login)
    if not may_command(role):
        return (
            f"Sorry, GitHub says {login} has {role} access to {repo}; rerunning needs write, "
            "maintain or admin, so nothing was rerun. Please ask someone who has it."
        )
    return None


def _repository(services: Services, pipeline_id: int) -> tuple[str | None, int | None]:
    """(owner/name, installation) of the pipeline's GitHub repository; (None, None)."""
    meta = services.store.meta(pipeline_id)
    repo = str(meta.get("github_repo") or services.store.pipeline(pipeline_id).repo)
    installation = meta.get("github_installation")
    try:
        fields.full_name("the pipeline's repository", repo)
    except WebhookError:
        return None, None
    return repo, installation if isinstance(installation, int) else None
