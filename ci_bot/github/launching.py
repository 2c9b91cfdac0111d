"""From a GitHub event to a stored pipeline: fetch, read the config at the commit,
apply the duplicate policy, materialize, launch, remember where it came from.

Runs in a queue worker, never in the webhook request.  A broken config gets a
failed check run annotated on its lines; a pull request no entry selects gets a
neutral one; both say why in the delivery's outcome too.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_bot.engine.launch import NoPipeline, launch
from ci_bot.errors import ConfigError, IntegrationError
from ci_bot.git import Commit
from ci_bot.github.bases import changes_since_base
from ci_bot.github.bot import GitHubBot
from ci_bot.github.duplicates import KEY_META, active_pipelines, decide, pipeline_key
from ci_bot.github.events import PullRequest, RefEvent, Repo
from ci_bot.history import History
from ci_bot.store.records import HandledDelivery
from ci_bot.tree.config import Config, Duplicate, parse_config
from ci_bot.tree.select import Event, NoMatch, select
from integrations.github.config_checks import report_config_error, report_no_pipeline

logger = logging.getLogger(__name__)

REPO_META = "github_repo_info"


@dataclass(frozen=True)
class Deferred:
    """The launch waits for an active pipeline with the same key (``duplicate = "defer"``)."""

    reason: str


class Recorded(str):
    """An outcome the launch stored as its delivery's already (``finishes_delivery``)."""

    __slots__ = ()


@dataclass(frozen=True)
class LaunchRequest:
    repo: Repo
    event: Event  # sha empty: resolve ``ref`` in the mirror
    ref: str = ""
    refs: tuple[str, ...] = ()  # extra refspecs to fetch (refs/pull/N/head)
    pr: int | None = None
    head_repo: str = ""
    trusted: bool = True
    once_per_commit: bool = False  # create/delete arrive as both push and create/delete events
    delivery: str = ""
    before: str = ""  # a push's previous head (changes_since_base)
    # The pipeline's write marks ``delivery`` handled too (its queue job has nothing
    # else to do): one write less, and no window where a kill would launch it twice.
    finishes_delivery: bool = False


def request_for_ref(event: RefEvent, delivery: str, *, finishes: bool = False) -> LaunchRequest:
    branch, tag = ("", event.ref) if event.is_tag else (event.ref, "")
    resolve = f"refs/tags/{event.ref}" if event.is_tag else f"refs/heads/{event.ref}"
    if event.name.startswith("delete-"):  # the ref is gone: its config is the default branch's
        resolve = f"refs/heads/{event.repo.default_branch}"
    tree_event = Event(
        event.name,
        branch=branch,
        tag=tag,
        sha=event.sha,
        repo=event.repo.full_name,
        author=event.author,
    )
    return LaunchRequest(
        repo=event.repo,
        event=tree_event,
        ref=resolve,
        once_per_commit=event.name != "push",
        delivery=delivery,
        before=event.before,
        finishes_delivery=finishes,
    )


def request_for_pr(pr: PullRequest, delivery: str, *, finishes: bool = False) -> LaunchRequest:
    tree_event = Event(
        "pr",
        branch=pr.head_ref,
        base_branch=pr.base_ref,
        sha=pr.head_sha,
        repo=pr.repo.full_name,
        pr=str(pr.number),
        author=pr.author,
    )
    return LaunchRequest(
        repo=pr.repo,
        event=tree_event,
        refs=(f"refs/pull/{pr.number}/head",),  # how a fork's commits reach the base repository
        pr=pr.number,
        head_repo=pr.head_repo,
        trusted=not pr.from_fork,
        delivery=delivery,
        finishes_delivery=finishes,
    )


def launch_request(bot: GitHubBot, request: LaunchRequest) -> str | Deferred:
    """Launch what ``request`` selects; the outcome in words (or Deferred)."""
    name = request.repo.full_name
    bot.fetch(request.repo, request.refs)
    snapshot = bot.snapshot(name, request.event.sha or request.ref)
    sha = snapshot.commit.sha
    history = bot.mirrors.history(name)
    event = dataclasses.replace(request.event, sha=sha)
    # A push's changes since its `before` may have been read with its lane's (`reads`).
    changes = bot.changes_read(name, request.before, sha) if event.name == "push" else None
    if changes is None:
        changes = changes_since_base(history, event, request.before, request.repo.default_branch)
    event = dataclasses.replace(event, changes=changes)
    found = snapshot.config
    if found is None:
        return _no_pipeline(bot, request, sha, "no conducto.cfg at the root of the repository")
    config_file, text = found
    try:
        config = parse_config(text, file=config_file)
        plan = select(config, event)
    except ConfigError as error:
        return _config_error(bot, request, sha, config_file, error)
    if isinstance(plan, NoMatch):
        return _no_pipeline(bot, request, sha, plan.explain())
    source = bot.settings.data_dir / "sources" / uuid.uuid4().hex
    bot.mirrors.materialize(name, sha, source)
    launched = _Launched(source, (config_file, config), history, snapshot.commit)
    try:
        return _launch_once(bot, request, event, launched, plan.entry.duplicate)
    except ConfigError as error:  # a generated tree that failed
        shutil.rmtree(source, ignore_errors=True)
        return _config_error(bot, request, sha, config_file, error)
    except NoPipeline as error:
        shutil.rmtree(source, ignore_errors=True)
        return _no_pipeline(bot, request, sha, str(error))


@dataclass(frozen=True)
class _Launched:
    """What launching one commit has read: its files (``source``), its config (parsed
    once, from the same commit), its history and its commit."""

    source: Path
    parsed: tuple[str, Config]
    history: History
    commit: Commit


def _launch_once(
    bot: GitHubBot, request: LaunchRequest, event: Event, launched: _Launched, policy: Duplicate
) -> str | Deferred:
    source = launched.source
    key = pipeline_key(event.repo, event.name, event.branch or event.tag, request.pr)
    once = f"{event.repo}|{event.name}|{event.branch or event.tag}|{event.sha}"
    # One launch decision at a time for this key, in this process and in every other
    # server on the same store (two servers may receive two pushes at once); other
    # keys (other repositories, branches, pull requests) launch meanwhile.
    with bot.store.exclusive(f"launch:{key}"):
        if request.once_per_commit and bot.store.pipelines_with_meta("github_once", once):
            shutil.rmtree(source, ignore_errors=True)
            where = f"{event.branch or event.tag} at {event.sha[:12]}"
            return f"{event.name} of {where}: already launched by another delivery"
        # `allow` launches whatever runs: no need to ask the store what does
        active = [] if policy is Duplicate.ALLOW else active_pipelines(bot.store, key)
        decision = decide(policy, active)
        if not decision.launch:
            shutil.rmtree(source, ignore_errors=True)
            return Deferred(decision.reason) if decision.defer else decision.reason
        for old in decision.cancel:
            bot.store.cancel(old, actor="ci-bot: a newer commit superseded it")
        note = f" ({decision.reason})" if decision.reason else ""

        def outcome(pipeline_id: int) -> str:
            return f"pipeline {pipeline_id} launched for {event.name} at {event.sha[:12]}{note}"

        finished = request.finishes_delivery and bool(request.delivery)
        handled = HandledDelivery(request.delivery, outcome) if finished else None
        store, settings, executor = bot.store, bot.settings, bot.services.executor
        pipeline_id = launch(
            store,
            settings,
            executor,
            source,
            event,
            launched.commit,
            trusted=request.trusted,
            history=launched.history,
            metas=_origin(request, event, key, once),
            parsed=launched.parsed,
            handled=handled,
        )
    bot.services.engine.wake()
    return Recorded(outcome(pipeline_id)) if handled else outcome(pipeline_id)


def _origin(request: LaunchRequest, event: Event, key: str, once: str) -> dict[str, Any]:
    """Where a pipeline came from (its meta): what reporting, duplicates and cron read."""
    meta: dict[str, Any] = {
        "github_repo": event.repo,
        "github_installation": request.repo.installation,
        "github_sha": event.sha,
        "github_sha_key": f"{event.repo}@{event.sha}",
        KEY_META: key,
        "github_delivery": request.delivery,
        # what a scheduled ([[cron]]) pipeline needs to fetch this repository later
        REPO_META: dataclasses.asdict(request.repo),
    }
    if request.pr is not None:
        meta |= {"github_pr": request.pr, "github_head_repo": request.head_repo}
    if request.once_per_commit:
        meta["github_once"] = once
    return meta


def _config_error(
    bot: GitHubBot, request: LaunchRequest, sha: str, config_file: str, error: ConfigError
) -> str:
    if bot.api is not None:
        repo = request.repo
        try:
            report_config_error(bot.api, repo.full_name, repo.installation, sha, config_file, error)
        except IntegrationError as failure:
            logger.warning("reporting the broken %s failed: %s", config_file, failure)
    return f"{config_file} at {sha[:12]} is invalid:\n{error}"


def _no_pipeline(bot: GitHubBot, request: LaunchRequest, sha: str, reason: str) -> str:
    logger.info("no pipeline for %s at %s: %s", request.repo.full_name, sha[:12], reason)
    if bot.api is not None and request.pr is not None:
        repo = request.repo
        try:
            report_no_pipeline(bot.api, repo.full_name, repo.installation, sha, reason)
        except IntegrationError as failure:
            logger.warning("reporting that no pipeline ran failed: %s", failure)
    return f"no pipeline: {reason}"
