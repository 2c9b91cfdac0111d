"""The thread under a pipeline's message: what a person wants to know later (pure).

``tellings`` picks, from a pipeline's run events, the ones worth a reply:
started, each failure, a retry, a reset (a rerun resets several nodes at once:
one reply), a skip, a cancel, finished.  The functions below word each one.
Node states that change without anything going wrong (queued, running, done)
are the message's business, not the thread's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ci_bot.store.records import RunEvent
from ci_bot.tree.durations import format_duration
from ci_bot.tree.states import State
from integrations.slack.mrkdwn import code, code_block, escape, link, truncate, who

LOG_BLOCK_LIMIT = 2500
_STARTING = (State.QUEUED.value, State.RUNNING.value)
_FAILED = (State.ERROR.value, State.WORKER_ERROR.value)


@dataclass(frozen=True)
class Telling:
    kind: str  # started | failure | retry | reset | skip | unskip | cancel | finished
    last_event: int  # the id of the last run event this reply covers
    path: str = "/"
    paths: tuple[str, ...] = ()
    actor: str = ""
    state: str = ""
    message: str = ""
    at: datetime | None = None  # when the (last) event happened


def tellings(events: Sequence[RunEvent], started: bool) -> list[Telling]:
    """The replies ``events`` call for, in order; consecutive resets by one person merge."""
    told: list[Telling] = []
    for event in events:
        telling = _telling(event, started)
        if telling is None:
            continue
        started = started or telling.kind == "started"
        last = told[-1] if told else None
        if last and last.kind == telling.kind == "reset" and last.actor == telling.actor:
            told[-1] = replace(last, paths=last.paths + telling.paths, last_event=event.id)
        else:
            told.append(telling)
    return told


def _telling(event: RunEvent, started: bool) -> Telling | None:
    kind, state, at = event.kind, event.state, event.created_at
    if kind in ("pipeline", "state") and state in _STARTING and not started:
        return Telling("started", event.id, at=at)
    if kind == "state" and state in _FAILED:
        return Telling("failure", event.id, event.path, state=state, message=event.message, at=at)
    if kind == "reset":
        return Telling("reset", event.id, paths=(event.path,), actor=event.actor, at=at)
    if kind in ("retry", "skip", "unskip", "cancel"):
        return Telling(kind, event.id, event.path, actor=event.actor, message=event.message, at=at)
    if kind == "finished":
        return Telling("finished", event.id, state=state, at=at)
    return None


def started(execs_to_run: int) -> str:
    noun = "Exec" if execs_to_run == 1 else "Execs"
    return f":arrow_forward: Started: {execs_to_run} {noun} to run."


@dataclass(frozen=True)
class FailureDetails:
    exit_code: int | None
    attempt: int
    log_tail: list[str]  # already masked on disk by the executor
    url: str  # the node's page in the bot's UI


def failure(telling: Telling, details: FailureDetails) -> str:
    worker = telling.state == State.WORKER_ERROR.value
    verb = "could not run" if worker else "failed"
    why = escape(truncate(telling.message, 300)) if telling.message else telling.state
    head = f"{':warning:' if worker else ':x:'} {code(telling.path)} {verb}: {why}"
    facts = [f"attempt {details.attempt}"]
    if details.exit_code is not None:
        facts.append(f"exit code {details.exit_code}")
    facts.append(link(details.url, "full log"))
    return f"{head}\n{' · '.join(facts)}\n{code_block(details.log_tail, LOG_BLOCK_LIMIT)}"


def retry(telling: Telling) -> str:
    return f":repeat: {code(telling.path)}: {escape(telling.message or 'retrying')}."


def reset(telling: Telling) -> str:
    paths = ", ".join(code(path) for path in telling.paths[:20])
    more = f" and {len(telling.paths) - 20} more" if len(telling.paths) > 20 else ""
    verb = "runs" if len(telling.paths) == 1 else "run"
    return f":leftwards_arrow_with_hook: {who(telling.actor)} reset {paths}{more}: {verb} again."


def skip(telling: Telling) -> str:
    emoji = ":fast_forward:" if telling.kind == "skip" else ":arrow_forward:"
    return f"{emoji} {who(telling.actor)} {telling.kind}ped {code(telling.path)}."


def cancel(telling: Telling) -> str:
    return f":no_entry_sign: {who(telling.actor)} cancelled the pipeline."


def finished(telling: Telling, seconds: float, failed: int, hidden: int, url: str) -> str:
    state = State(telling.state) if telling.state else State.DONE
    took = format_duration(seconds)
    if state is State.DONE:
        text = f":white_check_mark: Finished: passed in {took}."
    elif state.is_failure:
        noun = "Exec" if failed == 1 else "Execs"
        text = f":x: Finished: failed in {took}, {failed} {noun} failed."
    else:
        text = f":information_source: Finished: {state.value} after {took}."
    if hidden:
        text += f" {hidden} more failures are not shown here: {link(url, 'see the pipeline')}."
    return text
