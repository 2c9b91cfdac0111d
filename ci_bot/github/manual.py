"""Pipelines people start by hand: ``POST /api/pipelines`` (a repository, a branch or a
commit, an event) and the UI's *Rerun* of a pipeline that came from GitHub.

Each is a delivery of its own source, stored and queued as a webhook's is, so it
takes the webhooks' launch path (``launching.launch_request``): the mirror fetched,
the config read at the commit, the duplicate policy, check runs.  Only a repository
the bot has built from GitHub can be run this way: its clone URL and installation
are those its last delivery brought (as for ``[[cron]]``).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from ci_bot.github.bot import GitHubBot
from ci_bot.github.events import Repo
from ci_bot.github.launching import REPO_META, Deferred, LaunchRequest, launch_request
from ci_bot.store.records import Pipeline
from ci_bot.store.store import Store
from ci_bot.tree.select import Event

logger = logging.getLogger(__name__)

SOURCE = "manual"
EVENTS = ("push", "create-branch", "cron")  # what a person may start; a pr needs GitHub's
BY_META = "manual_by"
RERUN_META = "rerun_of"
DELIVERY_META = "github_delivery"  # set by ``launching`` on every pipeline it launches


@dataclass(frozen=True)
class ManualRun:
    """What to launch: a branch's head, a tag, a pull request's head, or one commit."""

    repo: Repo
    event: str
    branch: str = ""
    tag: str = ""
    sha: str = ""  # a commit id (abbreviated too); "" → the head of the branch or tag
    pr: int | None = None
    base_branch: str = ""
    head_repo: str = ""
    trusted: bool = True  # False: a pull request from a fork stays without secrets
    author: str = ""
    actor: str = ""  # who asked
    rerun_of: int | None = None

    def payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ManualRun:
        return cls(**{**payload, "repo": Repo(**payload["repo"])})


def known_repo(store: Store, full_name: str) -> Repo | None:
    """How the bot last reached ``full_name`` on GitHub; None when it never did."""
    for info in store.meta_values(REPO_META):
        if isinstance(info, dict) and info.get("full_name") == full_name:
            return Repo(**info)
    return None


def known_repos(store: Store) -> list[str]:
    """Every repository the bot has built from GitHub, sorted."""
    names = {info["full_name"] for info in store.meta_values(REPO_META) if isinstance(info, dict)}
    return sorted(names)


def rerun_of(store: Store, pipeline: Pipeline, actor: str) -> ManualRun | None:
    """The run that starts ``pipeline`` again, on its branch's newest commit (a pull
    request's newest head; a tag's commit); None when it did not come from GitHub."""
    meta = store.meta(pipeline.id)
    info = meta.get(REPO_META)
    if not isinstance(info, dict):
        return None
    run = ManualRun(
        Repo(**info),
        pipeline.event,
        author=pipeline.author,
        actor=actor,
        rerun_of=pipeline.id,
        trusted=pipeline.trusted,
    )
    if pipeline.event == "pr" and str(meta.get("github_pr", "")).isdigit():
        pr, head_repo = int(meta["github_pr"]), str(meta.get("github_head_repo", ""))
        base = pipeline.base_branch
        return dataclasses.replace(
            run, branch=pipeline.branch, pr=pr, head_repo=head_repo, base_branch=base
        )
    if pipeline.tag:
        return dataclasses.replace(run, tag=pipeline.tag)
    if pipeline.event.startswith("delete-") or not pipeline.branch:  # no head to follow
        return dataclasses.replace(run, branch=pipeline.branch, sha=pipeline.sha)
    return dataclasses.replace(run, branch=pipeline.branch)


def request_for_manual(run: ManualRun, delivery: str) -> LaunchRequest:
    event = Event(
        run.event,
        branch=run.branch,
        base_branch=run.base_branch,
        tag=run.tag,
        repo=run.repo.full_name,
        pr="" if run.pr is None else str(run.pr),
        author=run.author,
    )
    refs: tuple[str, ...] = ()
    if run.sha:
        ref = run.sha
    elif run.pr is not None:
        ref = f"refs/pull/{run.pr}/head"
        refs = (ref,)  # how a fork's commits reach the base repository
    elif run.tag:
        ref = f"refs/tags/{run.tag}"
    else:
        ref = f"refs/heads/{run.branch or run.repo.default_branch}"
    return LaunchRequest(
        repo=run.repo,
        event=event,
        ref=ref,
        refs=refs,
        pr=run.pr,
        head_repo=run.head_repo,
        trusted=run.trusted,
        delivery=delivery,
    )


def launch_manual(bot: GitHubBot, run: ManualRun, delivery: str) -> str | Deferred:
    """Launch ``run`` as the queue job of its delivery; the outcome in words."""
    outcome = launch_request(bot, request_for_manual(run, delivery))
    for pipeline_id in bot.store.pipelines_with_meta(DELIVERY_META, delivery):
        bot.store.set_meta(pipeline_id, BY_META, run.actor)
        if run.rerun_of is not None:
            bot.store.set_meta(pipeline_id, RERUN_META, run.rerun_of)
    logger.info("%s asked for %s of %s: %s", run.actor, run.event, run.repo.full_name, outcome)
    return outcome


def launched_pipeline(store: Store, delivery: str) -> int | None:
    """The pipeline a manual delivery launched, once it has."""
    found = store.pipelines_with_meta(DELIVERY_META, delivery)
    return found[-1] if found else None
