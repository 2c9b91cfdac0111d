"""The GitHub reporter: one check run per top-level stage, kept in step with the pipeline.

It follows the run events (cheap: it only notes which pipelines changed) and, on
``flush``, compares each stage's check run as it should look now with what was
last sent.  A check run is created ``queued`` when the pipeline is first seen,
updated at most about once per ``min_interval`` seconds, and its final state is
always sent.  A stage that runs again after it completed (a reset, ``/rerun``)
gets a new check run, as GitHub expects.  With a personal token the same states
go out as commit statuses.  GitHub failing is logged and retried on the next
flush; it never reaches the engine.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ci_bot.errors import IntegrationError
from ci_bot.metrics import reporter_error
from ci_bot.settings import Settings
from ci_bot.store.records import RunEvent
from ci_bot.store.store import NotFound, Store
from integrations.github.annotations import batches
from integrations.github.api import GitHubApi
from integrations.github.stages import StageReport, stage_reports, stages_of
from integrations.github.statuses import status_body

logger = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 60.0
META_GRACE_SECONDS = 10.0  # a pipeline's GitHub meta is written just after it is created
RERUN_ACTION = {
    "label": "Rerun failed",
    "description": "Run this stage's failed nodes again",
    "identifier": "rerun-failed",
}


@dataclass(frozen=True)
class Target:
    pipeline_id: int
    repo: str
    installation: int | None
    sha: str


@dataclass(frozen=True)
class _Sent:
    body: dict[str, Any]
    at: float


class ChecksReporter:
    name = "github-checks"

    def __init__(
        self,
        store: Store,
        settings: Settings,
        api: GitHubApi,
        *,
        mask: Callable[[str], str] = lambda text: text,
        min_interval: float = 1.0,
        retry_base: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.settings, self.api = store, settings, api
        self.mask = mask
        self.min_interval = min_interval
        self.retry_base = retry_base
        self._failures: dict[int, int] = {}  # consecutive failed flushes, per pipeline
        self._retry_at: dict[int, float] = {}
        self._clock = clock
        self._dirty: dict[int, float] = {}  # pipeline id → when first noted
        self._sent: dict[tuple[int, str], _Sent] = {}
        self._reset: set[tuple[int, str]] = set()  # (pipeline, path) reset since last sent

    def on_event(self, event: RunEvent) -> None:
        self._dirty.setdefault(event.pipeline_id, self._clock())
        if event.kind == "reset":  # its stages run again: new check runs, even if the
            self._mark_reset(event.pipeline_id, event.path)  # runs end before we look

    def _mark_reset(self, pipeline_id: int, path: str) -> None:
        try:
            stages = stages_of(self.store.tree(pipeline_id))
        except NotFound:
            return
        for stage, _ in stages:
            if path == "/" or stage == "/" or f"{path}/".startswith(f"{stage}/"):
                self._reset.add((pipeline_id, stage))

    def flush(self) -> None:
        now = self._clock()
        for pipeline_id in sorted(self._dirty):
            if self._retry_at.get(pipeline_id, 0.0) > now:
                continue  # GitHub failed a moment ago: give it time
            try:
                settled = self.report(pipeline_id)
            except NotFound:
                settled = True
            except IntegrationError as error:
                settled = self._failed(pipeline_id, error)
            else:
                self._failures.pop(pipeline_id, None)
                self._retry_at.pop(pipeline_id, None)
            if settled:
                self._dirty.pop(pipeline_id, None)
                self._forget_if_finished(pipeline_id)

    def _failed(self, pipeline_id: int, error: IntegrationError) -> bool:
        """Log the failure; True when retrying cannot help (the pipeline is dropped)."""
        reporter_error(self.name)
        status = getattr(error, "status", None)
        if status is None or (400 <= status < 500 and status not in (403, 429)):
            logger.warning(
                "reporting pipeline %s to GitHub failed for good: %s", pipeline_id, error
            )
            return True
        failures = self._failures.get(pipeline_id, 0) + 1
        self._failures[pipeline_id] = failures
        delay = min(self.retry_base * 2 ** (failures - 1), MAX_RETRY_SECONDS)
        self._retry_at[pipeline_id] = self._clock() + delay
        logger.warning(
            "reporting pipeline %s to GitHub failed (%s); retrying in %.0fs",
            *(pipeline_id, error, delay),
        )
        return False

    def _forget_if_finished(self, pipeline_id: int) -> None:
        """A finished pipeline's last bodies need not be kept (a later reset sends its
        state again, which is harmless); a long-running bot's memory stays flat."""
        try:
            if self.store.pipeline(pipeline_id).finished_at is None:
                return
        except NotFound:
            pass
        for key in [key for key in self._sent if key[0] == pipeline_id]:
            del self._sent[key]

    def report(self, pipeline_id: int) -> bool:
        """Bring the pipeline's check runs up to date; True when nothing is left to send."""
        meta = self.store.meta(pipeline_id)
        if "github_repo" not in meta:  # not from GitHub, or its meta is not written yet
            noted = self._dirty.get(pipeline_id, self._clock())
            return self._clock() - noted > META_GRACE_SECONDS
        target = Target(
            pipeline_id, meta["github_repo"], meta.get("github_installation"), meta["github_sha"]
        )
        reports = stage_reports(self.store, self.settings, pipeline_id, self.mask)
        send = self._send_check if self.api.mode == "app" else self._send_status
        settled = True
        for report in reports:
            settled &= send(target, report)
        return settled

    # --- check runs (GitHub App) ---------------------------------------------------------

    def _send_check(self, target: Target, report: StageReport) -> bool:
        runs: dict[str, Any] = self.store.meta(target.pipeline_id).get("github_check_runs", {})
        run = runs.get(report.path)
        body = check_body(report)
        key = (target.pipeline_id, report.path)
        if run is not None and not run["completed"]:
            self._reset.discard(key)  # still open: the same check run shows the rerun
        again = run is not None and run["completed"] and key in self._reset
        if run is None or again or (run["completed"] and report.status != "completed"):
            first = body if report.status == "completed" else queued_body(report)
            self._create(target, report, first, runs)
            return first == body
        last = self._sent.get((target.pipeline_id, report.path))
        if last is not None and last.body == body:
            return True
        if report.status != "completed" and last is not None and not self._due(last):
            return False  # coalesced: sent again once the interval has passed
        self._update(target, report, int(run["id"]), body)
        if run["completed"] != (report.status == "completed"):
            runs[report.path] = {**run, "completed": report.status == "completed"}
            self.store.set_meta(target.pipeline_id, "github_check_runs", runs)
        return True

    def _create(
        self, target: Target, report: StageReport, body: dict[str, Any], runs: dict[str, Any]
    ) -> None:
        parts = list(batches(report.annotations)) if report.status == "completed" else []
        request = {
            "name": report.name,
            "head_sha": target.sha,
            "external_id": f"{target.pipeline_id}:{report.path}",
            **body,
        }
        if parts:
            request["output"] = {**body["output"], "annotations": parts[0]}
        check_run_id = self.api.create_check_run(target.repo, target.installation, request)
        self._more_annotations(target, check_run_id, body, parts[1:])
        self._reset.discard((target.pipeline_id, report.path))
        runs[report.path] = {"id": check_run_id, "completed": report.status == "completed"}
        self.store.set_meta(target.pipeline_id, "github_check_runs", runs)
        self.store.set_meta(target.pipeline_id, f"github_check_run.{check_run_id}", True)
        self._sent[(target.pipeline_id, report.path)] = _Sent(body, self._clock())

    def _update(
        self, target: Target, report: StageReport, check_run_id: int, body: dict[str, Any]
    ) -> None:
        parts = list(batches(report.annotations)) if report.status == "completed" else []
        request = dict(body)
        if parts:
            request["output"] = {**body["output"], "annotations": parts[0]}
        self.api.update_check_run(target.repo, target.installation, check_run_id, request)
        self._more_annotations(target, check_run_id, body, parts[1:])
        self._sent[(target.pipeline_id, report.path)] = _Sent(body, self._clock())

    def _more_annotations(
        self, target: Target, check_run_id: int, body: dict[str, Any], parts: list[Any]
    ) -> None:
        """GitHub takes 50 annotations per request and appends each further batch."""
        for part in parts:
            output = {**body["output"], "annotations": part}
            self.api.update_check_run(
                target.repo, target.installation, check_run_id, {"output": output}
            )

    # --- commit statuses (personal token) ---------------------------------------------

    def _send_status(self, target: Target, report: StageReport) -> bool:
        body = status_body(report)
        last = self._sent.get((target.pipeline_id, report.path))
        if last is not None and last.body == body:
            return True
        if report.status != "completed" and last is not None and not self._due(last):
            return False
        self.api.create_status(target.repo, target.installation, target.sha, body)
        self._sent[(target.pipeline_id, report.path)] = _Sent(body, self._clock())
        return True

    def _due(self, last: _Sent) -> bool:
        return self._clock() - last.at >= self.min_interval


def queued_body(report: StageReport) -> dict[str, Any]:
    """How a stage is first shown: planned, not started (its real state follows)."""
    return check_body(dataclasses.replace(report, status="queued", conclusion=None, title="queued"))


def check_body(report: StageReport) -> dict[str, Any]:
    """The request body (without annotations) that makes the check run show ``report``."""
    output: dict[str, Any] = {"title": report.title, "summary": report.summary}
    if report.text:
        output["text"] = report.text
    body: dict[str, Any] = {
        "status": report.status,
        "details_url": report.details_url,
        "output": output,
    }
    if report.status == "completed":
        body["conclusion"] = report.conclusion
        if report.conclusion in ("failure", "timed_out"):
            body["actions"] = [RERUN_ACTION]
    return body
