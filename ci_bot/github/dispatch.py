"""The queue job behind ``POST /webhooks/github`` (and ``[[cron]]`` firings and runs
started by hand, stored the same way): one stored delivery, handled once.

Jobs queue in a lane per repository; ``handle_deliveries`` takes every delivery
waiting in one lane, fetches the repository once for all of them (and reads their
commits, configs and changes together: ``reads``), then handles each in order.
``handle_delivery`` re-reads a delivery from the store, routes it and does the work;
its outcome (a sentence) and status (handled, deferred, failed) go back to the store,
so a restarted bot resubmits only what was never finished.  Nothing
here raises into the queue: a failure is logged and recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from ci_bot.errors import CiBotError
from ci_bot.github import cron, manual
from ci_bot.github.approval import ask_for_approval, must_wait
from ci_bot.github.bot import GitHubBot
from ci_bot.github.comment_commands import handle_comment
from ci_bot.github.controls import cancel_closed, rerun_check_run, rerun_suite
from ci_bot.github.events import (
    CheckRunRequest,
    CommentCommands,
    Ignored,
    PullRequest,
    RefEvent,
    Work,
    route,
)
from ci_bot.github.fetches import FetchBatch, union_of_needs
from ci_bot.github.launching import (
    Deferred,
    Recorded,
    launch_request,
    request_for_pr,
    request_for_ref,
)
from ci_bot.github.reads import ReadBatch, Want, wants_of
from ci_bot.queue import InProcessQueue
from ci_bot.slack_reruns import attach_slack_reruns
from ci_bot.store.records import Delivery, RunEvent
from ci_bot.store.store import NotFound, Store

if TYPE_CHECKING:
    from ci_bot.services import Services

logger = logging.getLogger(__name__)

JOB = "github.delivery"
SOURCE = "github"


def handle_deliveries(bot: GitHubBot, delivery_ids: Sequence[str]) -> None:
    """The deliveries queued for one repository, in order: one fetch serves them all
    (``fetches``); each is then handled and finished on its own, so a crash half-way
    leaves the rest ``received`` for the next start."""
    stored = bot.store.deliveries(delivery_ids)
    waiting = (_waiting(stored, d) for d in dict.fromkeys(delivery_ids))  # each id once
    deliveries = [found for found in waiting if found]
    needs = [need for need in map(partial(_lane_need, bot), deliveries) if need]
    fetches = FetchBatch(union_of_needs((repo, refs) for repo, refs, _ in needs))
    reads = ReadBatch(wants_of((repo, want) for repo, _, want in needs if want))
    with bot.fetching(fetches, reads):
        for delivery in deliveries:
            bot.services.queue.foreground.wait_for_slack()  # a burst's answers first
            _handle(bot, delivery)


def handle_delivery(bot: GitHubBot, delivery_id: str) -> None:
    delivery = _stored(bot, delivery_id)
    if delivery is not None:
        _handle(bot, delivery)


def _stored(bot: GitHubBot, delivery_id: str) -> Delivery | None:
    """The delivery if it still waits to be handled."""
    try:
        delivery = bot.store.delivery(delivery_id)
    except NotFound:
        delivery = None
    return _waiting({delivery_id: delivery} if delivery else {}, delivery_id)


def _waiting(stored: Mapping[str, Delivery], delivery_id: str) -> Delivery | None:
    """The delivery (among those read from the store) if it still waits to be handled."""
    delivery = stored.get(delivery_id)
    if delivery is None:
        logger.warning("GitHub delivery %s is not stored; nothing to do", delivery_id)
        return None
    if delivery.status != "received":
        return None  # handled already (a replay raced the first submission)
    return delivery


def _lane_need(
    bot: GitHubBot, delivery: Delivery
) -> tuple[str, tuple[str, ...], Want | None] | None:
    """(repository, extra refs, commit) that handling ``delivery`` will fetch and read,
    when that is known up front; a delivery that cannot say is handled all the same,
    fetching and reading for itself."""
    if delivery.source != SOURCE:
        return None
    try:
        payload = json.loads(delivery.payload)
        work = route(delivery.event, payload, local_clones=bot.settings.allow_local_clones)
    except (CiBotError, ValueError, RecursionError):
        return None  # its own handling records why
    if isinstance(work, PullRequest) and work.action != "closed":
        want = Want(work.head_sha) if work.head_sha else None
        return work.repo.full_name, request_for_pr(work, delivery.id).refs, want
    if isinstance(work, RefEvent):
        before = work.before if work.name == "push" else ""
        return work.repo.full_name, (), Want(work.sha, before) if work.sha else None
    return None


def _handle(bot: GitHubBot, delivery: Delivery) -> None:
    delivery_id = delivery.id
    try:
        payload = json.loads(delivery.payload)
        if delivery.source == cron.SOURCE:
            outcome = launch_request(
                bot, cron.request_for_cron(cron.scheduled_run(payload), delivery_id)
            )
        elif delivery.source == manual.SOURCE:
            outcome = manual.launch_manual(bot, manual.ManualRun.from_payload(payload), delivery_id)
        else:
            work = route(delivery.event, payload, local_clones=bot.settings.allow_local_clones)
            outcome = perform(bot, work, delivery_id)
        status = "deferred" if isinstance(outcome, Deferred) else "handled"
        text = outcome.reason if isinstance(outcome, Deferred) else outcome
    except CiBotError as error:
        status, text = "failed", bot.mask(str(error))
    except Exception:  # a bug must not lose the delivery silently
        logger.exception("GitHub delivery %s (%s) failed", delivery_id, delivery.event)
        status, text = "failed", "internal error; see the bot's log"
    if not isinstance(text, Recorded):  # else stored with the pipeline it launched
        bot.store.finish_delivery(delivery_id, status, text)
    logger.info("GitHub delivery %s (%s): %s: %s", delivery_id, delivery.event, status, text)


def lane_of(payload: Mapping[str, Any]) -> str:
    """The repository a delivery's payload names (GitHub's, cron's or a manual run's):
    its queue lane, so one repository's deliveries are handled in order and together."""
    for holder in ("repository", "repo"):
        repo = payload.get(holder)
        if isinstance(repo, Mapping) and isinstance(repo.get("full_name"), str):
            return str(repo["full_name"])
    return ""


def perform(bot: GitHubBot, work: Work | Ignored, delivery_id: str) -> str | Deferred:
    if isinstance(work, Ignored):
        return f"ignored: {work.reason}"
    if isinstance(work, RefEvent):
        return launch_request(bot, request_for_ref(work, delivery_id, finishes=True))
    if isinstance(work, PullRequest):
        if work.action == "closed":
            return cancel_closed(bot, work)
        if must_wait(bot, work):
            return ask_for_approval(bot, work)
        return launch_request(bot, request_for_pr(work, delivery_id, finishes=True))
    if isinstance(work, CommentCommands):
        return handle_comment(bot, work)
    if isinstance(work, CheckRunRequest):
        return rerun_check_run(bot, work)
    return rerun_suite(bot, work)


def resubmit(
    store: Store, queue: InProcessQueue, statuses: tuple[str, ...] = ("received", "deferred")
) -> int:
    """Submit stored GitHub deliveries again: after a restart, or when a deferred one may go."""
    count = 0
    for status in statuses:
        for delivery in store.deliveries_with_status(status):
            if delivery.source not in (SOURCE, cron.SOURCE, manual.SOURCE):
                continue
            if status != "received":
                store.finish_delivery(delivery.id, "received", "submitted again")
            queue.submit(JOB, lane=_stored_lane(delivery), delivery=delivery.id)
            count += 1
    return count


def _stored_lane(delivery: Delivery) -> str:
    try:
        payload = json.loads(delivery.payload)
    except (ValueError, RecursionError):
        return ""
    return lane_of(payload) if isinstance(payload, Mapping) else ""


def resubmit_unhandled(services: Services) -> None:
    """At start-up: deliveries stored but never finished are handled now."""
    count = resubmit(services.store, services.queue)
    if count:
        logger.info("resubmitted %d GitHub deliveries left from before", count)


class DeferredLaunches:
    """Deferred deliveries (``duplicate = "defer"``) are tried again once a pipeline ends."""

    name = "github-deferred"

    def __init__(self, store: Store, queue: InProcessQueue) -> None:
        self.store, self.queue = store, queue
        self._due = False

    def on_event(self, event: RunEvent) -> None:
        if event.kind == "finished":
            self._due = True

    def flush(self) -> None:
        if self._due:
            self._due = False
            resubmit(self.store, self.queue, ("deferred",))


def attach_github(services: Services) -> GitHubBot:
    """Register the delivery job, and the GitHub reporter when an App or token is set;
    and Slack's rerun job, which asks this same GitHub API who may rerun."""
    from ci_bot.git import Mirrors
    from ci_bot.github.bot import make_mask
    from ci_bot.secrets.source import as_source
    from integrations.github.api import make_api
    from integrations.github.checks import ChecksReporter
    from integrations.github.releases import GitHubReleases

    api = make_api(services.settings)
    mask = make_mask(as_source(services.engine.secrets))
    bot = GitHubBot(services, api, Mirrors(services.settings.data_dir / "mirrors"), mask)
    services.queue.register_batch(
        JOB, lambda payloads: handle_deliveries(bot, [str(p["delivery"]) for p in payloads])
    )
    attach_slack_reruns(services, api)
    services.reporters.append(DeferredLaunches(services.store, services.queue))
    services.background.append(cron.CronTrigger(bot, JOB))
    if api is not None:
        services.reporters.append(ChecksReporter(services.store, services.settings, api, mask=mask))
        settings, store = services.settings, services.store
        # `release` nodes publish through it; without an App or token they fail, saying so.
        services.engine.artifacts.publisher = GitHubReleases(
            settings.github_api_url, api.tokens, store, mask
        )
    return bot
