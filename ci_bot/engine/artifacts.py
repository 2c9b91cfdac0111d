"""What happens around an Exec's run: ``reuse``, ``sign`` and ``release`` (design doc §2).

Before a run, an earlier result may stand in for it (``reuse.py``); after a run
that ended done, its outputs are saved for later runs, the files ``sign`` names
are signed (``signing.py``) and those ``release`` names published
(``releases.py``).  The engine calls the three public methods and stays about
scheduling.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ci_bot.engine import launch_facts, releases, signing
from ci_bot.engine.reuse import ReuseCache, Reused
from ci_bot.engine.trust import REFUSED, privileges_of
from ci_bot.errors import ReleaseError, SigningError
from ci_bot.executors.base import DONE, ERROR, ExecResult, ExecSpec, Executor
from ci_bot.executors.logs import LogWriter
from ci_bot.settings import Settings
from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import Store
from ci_bot.tree.nodes import Resolved

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One execution being run, with what the steps around its run need."""

    pipeline: Pipeline
    execution: Execution
    spec: ExecSpec
    resolved: Resolved


class Artifacts:
    """The steps around a run, for the engine's execution threads (they are thread-safe:
    each run saves under its own execution id, and the store serialises writes)."""

    def __init__(self, settings: Settings, store: Store, executor: Executor) -> None:
        self.settings = settings
        self.cache = ReuseCache(settings, store, executor)
        self.publisher: releases.Publisher | None = None  # GitHub's, when the bot has it

    def reuse_key(self, job: Job) -> str:
        """The run's reuse key; "" without ``reuse``, and for pull requests from forks,
        which must never hand their outputs to a trusted pipeline."""
        reuse = job.resolved.reuse
        if reuse is None or not privileges_of(job.pipeline).reuse:
            return ""
        return self.cache.key(job.pipeline, job.spec, job.resolved.env, reuse)

    def take_earlier(self, job: Job, key: str) -> Reused | None:
        """An earlier result, restored into $CI_DATA.  Only a first execution takes one:
        people reset a node to run it again, and a retry follows a real failure."""
        if not key or job.execution.attempt != 1:
            return None
        reused = self.cache.restore(job.pipeline.repo, key, job.spec.data_dir)
        if reused is not None:
            _note(job.spec, reused.message)
        return reused

    def after_done(
        self, job: Job, key: str, reused: Reused | None, result: ExecResult
    ) -> tuple[ExecResult, str]:
        """Save the outputs for reuse, then sign; the result, and the key the outputs are
        offered under ("" when they are not: reused, not saved, or signing failed)."""
        saved = self._save_outputs(job, key) if reused is None else ""
        result = self._sign(job, reused, result)
        if result.state == DONE:
            result = self._publish(job, result)
        if saved and result.state != DONE:
            self.cache.discard(saved, job.execution.id)
            saved = ""
        return result, saved

    def _save_outputs(self, job: Job, key: str) -> str:
        if not key:
            return ""
        outputs = job.resolved.reuse.outputs
        problem = self.cache.save(key, job.execution.id, job.spec.data_dir, outputs)
        if problem:
            _note(job.spec, problem)
            return ""
        return key

    def _sign(self, job: Job, reused: Reused | None, result: ExecResult) -> ExecResult:
        """Sign what ``sign`` names; a failure turns the done result into an error."""
        if not job.resolved.sign:
            return result
        if not privileges_of(job.pipeline).signing:
            _note(job.spec, REFUSED["signing"])
            return result
        execution, origin = job.execution, reused.execution_id if reused else None
        try:
            key = signing.load_key(self.settings.signing_key)
            about = signing.about(job.pipeline, execution.id, execution.path, origin)
            for signed in signing.sign_outputs(key, job.spec.data_dir, job.resolved.sign, about):
                _note(job.spec, f"signed {signed.artifact} (sha256 {signed.sha256})")
        except (SigningError, OSError) as error:
            message = str(error) if isinstance(error, SigningError) else f"sign: {error}"
            _note(job.spec, message)
            return ExecResult(ERROR, result.exit_code, message, result.container_id)
        return result

    def _publish(self, job: Job, result: ExecResult) -> ExecResult:
        """Publish what ``release`` names; a failure turns the done result into an error."""
        spec, pipeline = job.resolved.release, job.pipeline
        if spec is None:
            return result
        refused = releases.refusal(pipeline)
        if refused is not None:
            _note(job.spec, refused)
            return result
        try:
            history = launch_facts.release_history(Path(pipeline.source_dir))
            release = releases.prepare(
                pipeline, job.spec.data_dir, spec, history, job.execution.path
            )
            if self.publisher is None:
                raise ReleaseError(releases.NO_PUBLISHER)
            where = self.publisher.publish(pipeline, release)
        except ReleaseError as error:
            _note(job.spec, str(error))
            return ExecResult(ERROR, result.exit_code, str(error), result.container_id)
        names = ", ".join(asset.name for asset in release.assets)
        _note(job.spec, f"released {release.tag}: {names} ({where})")
        return result


def _note(spec: ExecSpec, message: str) -> None:
    """A line from ci-bot in the node's log, after whatever the container wrote."""
    try:
        with LogWriter(spec.log_path, spec.secrets, also_mask=spec.also_mask) as log:
            log.note(message)
    except OSError as error:
        logger.warning("could not write to %s: %s", spec.log_path, error)
