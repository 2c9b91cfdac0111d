"""Starting a pipeline by hand, for the API and the pages: a run of a repository the bot
has built from GitHub (``github/manual.py``), or the *Rerun* of a pipeline.

A GitHub repository's run is stored and queued as a webhook's delivery is, and the
request waits (a bounded time) for the queue to launch it, so the answer can name
the new pipeline.  A pipeline that did not come from GitHub is rerun here and now
from its own snapshot (``engine/relaunch.py``).
"""

from __future__ import annotations

import difflib
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ci_bot.engine.relaunch import SnapshotGone, relaunch
from ci_bot.errors import CiBotError, WebhookError
from ci_bot.github import fields, manual
from ci_bot.github.dispatch import JOB
from ci_bot.services import Services
from ci_bot.store.records import Pipeline

LAUNCH_WAIT_SECONDS = 60.0  # a launch fetches the repository first; past this, 202
POLL_SECONDS = 0.1
BODY_KEYS = ("repo", "branch", "sha", "event")
_SHORT_SHA = re.compile(r"[0-9a-f]{7,64}")


class StartRefused(Exception):
    """The request cannot start a pipeline; the message says why (with an HTTP status)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Started:
    """What came of a start: a pipeline, or a delivery still waiting (deferred or queued)."""

    pipeline_id: int | None
    delivery: str = ""
    waiting: str = ""  # why there is no pipeline yet: a deferral's reason, or "queued"


def run_from_body(services: Services, body: Any, actor: str) -> manual.ManualRun:
    """The run a ``POST /api/pipelines`` body asks for; StartRefused(400/404) if none."""
    if not isinstance(body, dict):
        raise StartRefused('send a JSON object: {"repo": "OWNER/NAME", "branch": "main"}', 400)
    unknown = sorted(set(body) - set(BODY_KEYS))
    if unknown:
        raise StartRefused(
            f"unknown field {unknown[0]!r}; the fields are {_listed(BODY_KEYS)}", 400
        )
    values = {key: body.get(key, "") for key in BODY_KEYS}
    if not all(isinstance(value, str) for value in values.values()):
        raise StartRefused(f"{_listed(BODY_KEYS)} must be strings", 400)
    event = values["event"] or "push"
    if event not in manual.EVENTS:
        near = difflib.get_close_matches(event, manual.EVENTS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise StartRefused(
            f"event must be one of {_listed(manual.EVENTS)}, not {event!r}{hint}", 400
        )
    branch, sha = values["branch"].strip(), values["sha"].strip().lower()
    if not branch and not sha:
        raise StartRefused("give a branch (its newest commit runs) or a sha", 400)
    try:
        name = fields.full_name("repo", values["repo"].strip())
        if branch:
            fields.ref_name("branch", branch)
    except WebhookError as error:
        raise StartRefused(str(error), 400) from None
    if sha and not _SHORT_SHA.fullmatch(sha):
        raise StartRefused(f"sha {sha[:70]!r} is not a commit id (7 to 64 hex digits)", 400)
    repo = manual.known_repo(services.store, name)
    if repo is None:
        raise StartRefused(
            f"ci-bot has never built {name} from GitHub; a repository can be run by hand "
            "once one of its webhooks has launched a pipeline",
            404,
        )
    return manual.ManualRun(repo, event, branch=branch, sha=sha, actor=actor)


def start(services: Services, run: manual.ManualRun) -> Started:
    """Queue ``run`` as a delivery and wait for the queue to launch it."""
    delivery = f"{manual.SOURCE}:{uuid.uuid4().hex}"
    payload = json.dumps(run.payload(), separators=(",", ":"))
    services.store.record_delivery(delivery, manual.SOURCE, run.event, payload)
    services.queue.submit(JOB, delivery=delivery)
    return _outcome(services, delivery)


def rerun(services: Services, pipeline: Pipeline, actor: str) -> Started:
    """A new pipeline like ``pipeline``: on its branch's newest commit when it came from
    GitHub, else on its own snapshot.  StartRefused(409/422) when neither can be had."""
    run = manual.rerun_of(services.store, pipeline, actor)
    if run is not None:
        return start(services, run)
    store, settings, executor = services.store, services.settings, services.executor
    try:
        new_id = relaunch(store, settings, executor, pipeline)
    except SnapshotGone as error:
        raise StartRefused(str(error), 409) from None
    except CiBotError as error:
        raise StartRefused(str(error), 422) from None
    store.set_meta(new_id, manual.RERUN_META, pipeline.id)
    store.set_meta(new_id, manual.BY_META, actor)
    services.engine.wake()
    return Started(new_id)


def _outcome(services: Services, delivery: str) -> Started:
    deadline = time.monotonic() + LAUNCH_WAIT_SECONDS
    found = services.store.delivery(delivery)
    while found.status == "received" and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        found = services.store.delivery(delivery)
    pipeline_id = manual.launched_pipeline(services.store, delivery)
    if pipeline_id is not None:
        return Started(pipeline_id, delivery)
    if found.status == "received":
        return Started(None, delivery, "queued")
    if found.status == "deferred":
        return Started(None, delivery, found.outcome)
    raise StartRefused(found.outcome or "nothing was launched", 422)


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(names)
