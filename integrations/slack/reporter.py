"""The Slack reporter: one live message per pipeline, the story in its thread.

``on_event`` only notes which pipelines changed.  ``flush`` brings each one's
Slack side up to date from the store: it renders the message from the
pipeline as it is *now* (so many events make one edit), posts it once, edits
it at most every ``min_interval`` seconds (the final state always goes out,
one interval later at worst), then replies in the thread to the run events
not told yet, in order.  Progress lives in the pipeline's meta, so a
restarted bot edits the same message and carries on the same thread.

When Slack says "not now" (HTTP 429 with Retry-After, 5xx, network down)
every call pauses for Retry-After or a growing backoff; when it says "no"
(channel_not_found ...) that pipeline is left alone.  Both are logged; neither
ever touches the build.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from ci_bot.executors.logs import parse_timestamp, tail
from ci_bot.metrics import reporter_error
from ci_bot.secrets.masking import SecretValues
from ci_bot.settings import Settings
from ci_bot.store.records import Execution, Pipeline, RunEvent
from ci_bot.store.store import NotFound, Store, utcnow
from ci_bot.tree.states import State
from ci_bot.web.urls import node_url, pipeline_url
from integrations.slack import record, story
from integrations.slack.blocks import message
from integrations.slack.channel import channel_for
from integrations.slack.client import Refused, RetryLater, SlackApi
from integrations.slack.record import MessageRecord
from integrations.slack.view import pipeline_view

logger = logging.getLogger(__name__)

MAX_FAILURE_REPLIES = 10  # per pipeline between resets; the rest are counted in "finished"
LOG_TAIL_LINES = 20
TOO_OLD = timedelta(hours=1)  # a pipeline that finished this long ago is not announced late
MAX_BACKOFF = 60.0

Message = tuple[str, list[dict[str, Any]]]


class SlackReporter:
    name = "slack"

    def __init__(
        self,
        settings: Settings,
        store: Store,
        api: SlackApi,
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.api = api
        self.min_interval = min_interval
        self.clock = clock
        self._dirty: set[int] = set()
        self._primed = False
        self._records: dict[int, MessageRecord | None] = {}  # None: not told in Slack
        self._sent: dict[int, Message] = {}
        self._edited_at: dict[int, float] = {}
        self._open: dict[int, bool] = {}
        self._paused_until = 0.0
        self._failures = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        store: Store,
        secrets: Mapping[str, str] | SecretValues | None = None,
    ) -> SlackReporter:
        api = SlackApi(settings.slack_token, settings.slack_api_url, secrets=secrets)
        return cls(settings, store, api)

    # --- the Reporter protocol --------------------------------------------------------------

    def on_event(self, event: RunEvent) -> None:
        self._dirty.add(event.pipeline_id)
        if event.kind == "created":
            # Noted before the hub saves its position, so a bot that dies before
            # telling Slack still finds this pipeline when it starts again.
            self._mark_open(event.pipeline_id, True)

    def flush(self) -> None:
        if not self._primed:
            # What a previous run of the bot left half told: unfinished pipelines and
            # messages not showing their final state yet.
            self._dirty.update(self.store.unfinished(), record.open_messages(self.store))
            self._primed = True
        for pipeline_id in sorted(self._dirty):
            if self.clock() < self._paused_until:
                return
            if self._bring_up_to_date(pipeline_id):
                self._dirty.discard(pipeline_id)

    # --- one pipeline ------------------------------------------------------------------------

    def _bring_up_to_date(self, pipeline_id: int) -> bool:
        """Sync one pipeline's message and thread; True when nothing is left to send."""
        try:
            current = self._record(pipeline_id)
            if current is None:  # no channel, or Slack refused it for good
                self._mark_open(pipeline_id, False)
                return True
            done = self._sync(pipeline_id, current)
        except RetryLater as wait:
            reporter_error(self.name)
            self._back_off(wait.seconds)
            return False
        except Refused as refused:
            reporter_error(self.name)
            self._give_up(pipeline_id, refused.error)
            return True
        except NotFound:
            return True
        except Exception:  # a bug here must not stall the other pipelines' messages
            reporter_error(self.name)
            logger.exception(
                "pipeline %s: Slack update failed; retried on its next event", pipeline_id
            )
            return True
        self._failures = 0
        return done

    def _sync(self, pipeline_id: int, current: MessageRecord) -> bool:
        pipeline = self.store.pipeline(pipeline_id)
        if not current.posted and _too_old(pipeline):
            logger.info("pipeline %s finished long ago; not announced in Slack", pipeline_id)
            self._records[pipeline_id] = None
            self._mark_open(pipeline_id, False)
            return True
        rendered = message(
            pipeline_view(self.store, self.settings, pipeline_id, can_rerun=self._can_rerun())
        )
        shown = self._show(pipeline_id, current, rendered)
        self._tell(pipeline_id, current)
        final = shown and pipeline.finished_at is not None
        self._mark_open(pipeline_id, not final)
        return shown

    def _show(self, pipeline_id: int, current: MessageRecord, rendered: Message) -> bool:
        """Post or edit the message; False when an edit must wait for the interval."""
        text, blocks = rendered
        now = self.clock()
        if not current.posted:
            current.channel, current.ts = self.api.post(current.channel, text, blocks)
            record.save(self.store, pipeline_id, current)
        elif self._sent.get(pipeline_id) == rendered:
            return True
        elif now - self._edited_at.get(pipeline_id, float("-inf")) < self.min_interval:
            return False
        else:
            self.api.update(current.channel, current.ts, text, blocks)
        self._sent[pipeline_id] = rendered
        self._edited_at[pipeline_id] = now
        return True

    def _tell(self, pipeline_id: int, current: MessageRecord) -> None:
        """Reply in the thread to every run event not told yet, saving progress each time."""
        events = self.store.events(pipeline_id, after=current.told)
        for telling in story.tellings(events, current.started):
            text = self._reply(pipeline_id, current, telling)
            if text is not None:
                self.api.post(current.channel, text, thread_ts=current.ts)
            current.told = telling.last_event
            record.save(self.store, pipeline_id, current)
        if events and current.told < events[-1].id:
            current.told = events[-1].id  # the rest were not worth a reply
            record.save(self.store, pipeline_id, current)

    def _reply(
        self, pipeline_id: int, current: MessageRecord, telling: story.Telling
    ) -> str | None:
        """The reply's text (None: counted, not sent); updates the record's counters."""
        if telling.kind == "started":
            current.started = True
            return story.started(self._execs_to_run(pipeline_id))
        if telling.kind == "failure":
            if current.failures >= MAX_FAILURE_REPLIES:
                current.hidden += 1
                return None
            current.failures += 1
            return story.failure(telling, self._failure_details(pipeline_id, telling))
        if telling.kind == "reset":
            current.failures = current.hidden = 0
            return story.reset(telling)
        if telling.kind == "finished":
            return self._finished(pipeline_id, current, telling)
        words: dict[str, Callable[[story.Telling], str]] = {
            "retry": story.retry,
            "skip": story.skip,
            "unskip": story.skip,
            "cancel": story.cancel,
        }
        return words[telling.kind](telling)

    def _finished(self, pipeline_id: int, current: MessageRecord, telling: story.Telling) -> str:
        """The end as it was when the pipeline settled (a rerun may have begun since)."""
        pipeline = self.store.pipeline(pipeline_id)
        end = telling.at or pipeline.finished_at or utcnow()
        latest: dict[str, Execution] = {}
        for execution in self.store.executions(pipeline_id):
            if execution.ended_at is not None and execution.ended_at <= end:
                latest[execution.path] = execution
        failed = sum(1 for execution in latest.values() if execution.state.is_failure)
        url = pipeline_url(self.settings, pipeline_id)
        seconds = (end - pipeline.created_at).total_seconds()
        return story.finished(telling, seconds, failed, current.hidden, url)

    def _failure_details(self, pipeline_id: int, telling: story.Telling) -> story.FailureDetails:
        """The execution that failed (a newer one may already run after a quick rerun)."""
        executions = self.store.executions(pipeline_id, telling.path)
        failed = [e for e in executions if e.state.is_failure and e.ended_at is not None]
        url = node_url(self.settings, pipeline_id, telling.path)
        if not failed:
            return story.FailureDetails(None, len(executions), [], url)
        execution = failed[-1]
        lines = tail(Path(execution.log_path), LOG_TAIL_LINES) if execution.log_path else []
        return story.FailureDetails(
            execution.exit_code, execution.attempt, [_without_stamp(line) for line in lines], url
        )

    def _execs_to_run(self, pipeline_id: int) -> int:
        states = self.store.exec_states(pipeline_id).values()
        return sum(1 for state in states if state is not State.SKIPPED)

    # --- bookkeeping ---------------------------------------------------------------------------

    def _record(self, pipeline_id: int) -> MessageRecord | None:
        if pipeline_id not in self._records:
            self._records[pipeline_id] = self._load_or_start(pipeline_id)
        return self._records[pipeline_id]

    def _load_or_start(self, pipeline_id: int) -> MessageRecord | None:
        stored = record.load(self.store, pipeline_id)
        if stored is not None:
            return None if stored.gave_up else stored
        channel = channel_for(self.store.pipeline(pipeline_id), self.settings.slack_channel)
        return MessageRecord(channel=channel) if channel else None

    def _give_up(self, pipeline_id: int, error: str) -> None:
        logger.error("pipeline %s: Slack refused (%s); no more Slack for it", pipeline_id, error)
        current = self._records.get(pipeline_id) or MessageRecord(channel="")
        current.gave_up = error
        record.save(self.store, pipeline_id, current)
        self._mark_open(pipeline_id, False)
        self._records[pipeline_id] = None

    def _mark_open(self, pipeline_id: int, is_open: bool) -> None:
        if self._open.get(pipeline_id) != is_open:
            record.mark_open(self.store, pipeline_id, is_open)
            self._open[pipeline_id] = is_open

    def _back_off(self, retry_after: float) -> None:
        self._failures += 1
        backoff = min(2.0 ** (self._failures - 1), MAX_BACKOFF)
        self._paused_until = self.clock() + (retry_after or backoff)

    def _can_rerun(self) -> bool:
        return bool(self.settings.slack_signing_secret)


def _too_old(pipeline: Pipeline) -> bool:
    return pipeline.finished_at is not None and utcnow() - pipeline.finished_at > TOO_OLD


def _without_stamp(line: str) -> str:
    """A log line without the timestamp the executor put in front of it."""
    stamp, _, rest = line.partition(" ")
    return rest if parse_timestamp(stamp) is not None else line
