"""The Slack reporter against the fake Slack: pipelines from real git repositories, driven
by the real Engine (with a FakeExecutor: Docker runs are in test_slack_docker.py) and fed
through the ReporterHub.  The reporter's clock is the test's, so coalescing and
Retry-After are checked without sleeping on them."""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from ci_bot.engine.context import log_dir
from ci_bot.engine.launch import launch_local
from ci_bot.engine.runner import Engine
from ci_bot.executors.base import ERROR
from ci_bot.executors.fake import FakeExecutor
from ci_bot.reporting import ReporterHub
from ci_bot.settings import Settings
from ci_bot.store.records import Pipeline
from ci_bot.store.store import Store
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from integrations.slack import record
from integrations.slack import reporter as reporter_module
from integrations.slack.client import SlackApi
from integrations.slack.reporter import SlackReporter
from tests.fakes.slack import FakeSlack, Message
from tests.slack.support import TOKEN, ManualClock, all_text, header_of, slack_settings

ERRORS = "ci_bot_reporter_errors_total"  # on /metrics
PUSH = Event("push", branch="main", repo="acme/app")


def config(body: str, channel: str | None = "#ci", root: str = "") -> str:
    entry = f'slack_channel = "{channel}"\n' if channel else ""
    return f'[push]\n{entry}\n[pipeline.main]\nimage = "alpine"\n{root}\n{body}'


TWO_STEPS = config(
    """
[pipeline.main.build]
run = "make"
[pipeline.main.test]
run = "make test"
"""
)


@dataclass
class Rig:
    """One bot's store, engine and Slack reporter, with the fake Slack and a manual clock."""

    settings: Settings
    fake: FakeSlack
    store: Store
    executor: FakeExecutor
    engine: Engine
    make_repo: Callable[..., Path]
    clock: ManualClock = field(default_factory=ManualClock)
    secrets: dict[str, str] = field(default_factory=dict)
    reporter: SlackReporter = field(init=False)
    hub: ReporterHub = field(init=False)

    def __post_init__(self) -> None:
        self.restart()

    def restart(self, api_url: str | None = None) -> None:
        """A new reporter and hub on the same store: the bot restarted."""
        api = SlackApi(TOKEN, api_url or self.fake.url, secrets=self.secrets)
        self.reporter = SlackReporter(self.settings, self.store, api, clock=self.clock)
        self.hub = ReporterHub(self.store, [self.reporter])

    def launch(self, cfg: str, message: str = "Add the login form\n\nWith tests.") -> int:
        repo = self.make_repo({"conducto.cfg": cfg}, message)
        return launch_local(self.store, self.settings, self.executor, repo, PUSH)

    def run(self, pipeline_id: int) -> Pipeline:
        return self.engine.run_until_settled(pipeline_id)

    def report(self, advance: float = 1.0) -> int:
        """Move the clock, let the hub feed and flush; the number of Slack calls it made."""
        before = len(self.fake.calls)
        self.clock.advance(advance)
        self.hub.step()
        return len(self.fake.calls) - before

    def message(self, channel: str = "ci") -> Message:
        [message] = self.fake.top_level(self.fake.channel_id(channel))
        return message

    def thread(self, channel: str = "ci") -> list[str]:
        message = self.message(channel)
        return [reply.text for reply in self.fake.replies(message.channel, message.ts)]


@pytest.fixture
def make_rig(
    tmp_path: Path, fake_slack: FakeSlack, repo_factory: Callable[..., Path]
) -> Iterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(*, secrets: dict[str, str] | None = None, **environ: str) -> Rig:
        settings = slack_settings(tmp_path / f"bot{len(rigs)}", fake_slack, **environ)
        store = Store(settings.database_url)
        executor = FakeExecutor()
        engine = Engine(store, executor, settings, secrets=secrets, poll_seconds=0.02)
        rig = Rig(
            settings, fake_slack, store, executor, engine, repo_factory, secrets=secrets or {}
        )
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.executor.assert_all_used()
        rig.store.engine.dispose()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


# --- one message, edited in place; the story in its thread ------------------------------------


def test_the_message_is_posted_when_planned_and_edited_in_place_to_its_final_state(
    rig: Rig,
) -> None:
    rig.executor.expect("/build").expect("/test", ERROR, exit_code=2, output="1 failed\n")
    pipeline_id = rig.launch(TWO_STEPS)

    assert rig.report() == 1  # planned: the message, nothing in the thread yet
    assert header_of(rig.message()) == ":white_circle: acme/app pipeline 1 waiting to start"
    assert rig.run(pipeline_id).state is State.ERROR
    rig.report()

    message = rig.message()
    assert message.edits == 1  # everything since the post is one edit: coalesced
    assert header_of(message) == ":x: acme/app pipeline 1 failed"
    shown = all_text(message)
    assert "Add the login form" in shown and "With tests" not in shown  # the first line only
    assert ":white_check_mark: *build*" in shown and ":x: *test*" in shown
    assert "`/test` exited with code 2" in shown
    assert "Rerun failed" in shown and "https://ci.example.com/pipelines/1" in shown
    thread = rig.thread()
    assert thread[0] == ":arrow_forward: Started: 2 Execs to run."
    assert thread[1].startswith(":x: `/test` failed: exited with code 2\nattempt 1 · exit code 2")
    assert "```\n1 failed\n```" in thread[1]
    assert thread[2].startswith(":x: Finished: failed in ")
    assert len(thread) == 3
    assert rig.fake.top_level(rig.fake.channel_id("general")) == []


@pytest.mark.parametrize(
    ("entry", "default", "told_in"),
    [("#ci", "#general", "ci"), (None, "#general", "general"), (None, "", None)],
    ids=["the entry's slack_channel", "else the default", "else none"],
)
def test_the_channel_is_the_entrys_else_the_default_else_no_slack(
    make_rig: Callable[..., Rig], entry: str | None, default: str, told_in: str | None
) -> None:
    rig = make_rig(CI_BOT_SLACK_CHANNEL=default)
    rig.executor.expect("/only")
    pipeline_id = rig.launch(config('[pipeline.main.only]\nrun = "true"', channel=entry))
    rig.run(pipeline_id)
    rig.report()

    if told_in is None:
        assert rig.fake.calls == []
        assert record.load(rig.store, pipeline_id) is None
    else:
        assert header_of(rig.message(told_in)).endswith("passed")
        assert record.message_of(rig.store, pipeline_id) == (
            rig.fake.channel_id(told_in),
            rig.message(told_in).ts,
        )


def test_edits_are_coalesced_to_one_a_second_and_the_final_state_always_goes_out(
    rig: Rig,
) -> None:
    pipeline_id = rig.launch(TWO_STEPS)
    rig.report()
    logs = str(log_dir(rig.settings, pipeline_id))

    # Four state changes inside one second: no edit yet...
    for path in ("/build", "/test"):
        execution = rig.store.queue(pipeline_id, path, logs)
        rig.store.mark_running(execution.id, "c1")
        assert rig.report(0.2) == (1 if path == "/build" else 0)  # only "started", in the thread
        rig.store.finish(execution.id, State.DONE, exit_code=0)
    assert rig.message().edits == 0
    # ...then one edit shows where the pipeline is now, and the end is told in the thread.
    assert rig.report(0.6) == 2
    assert header_of(rig.message()).endswith("passed") and rig.message().edits == 1
    assert rig.thread()[-1].startswith(":white_check_mark: Finished: passed in ")
    # Nothing changed since: nothing more is sent.
    assert [rig.report(5) for _ in range(3)] == [0, 0, 0]


# --- restarts -----------------------------------------------------------------------------------


def test_a_restarted_bot_edits_the_same_message_and_carries_on_the_thread(rig: Rig) -> None:
    rig.executor.expect("/build").expect("/test")
    pipeline_id = rig.launch(TWO_STEPS)
    logs = str(log_dir(rig.settings, pipeline_id))
    execution = rig.store.queue(pipeline_id, "/build", logs)
    rig.report()
    assert rig.thread() == [":arrow_forward: Started: 2 Execs to run."]
    rig.store.finish(execution.id, State.ERROR, exit_code=1, message="exited with code 1")
    rig.store.reset(pipeline_id, "/build", actor="carol")

    rig.restart()  # the bot restarts: a new reporter, the same database
    rig.run(pipeline_id)
    rig.report()

    assert len(rig.fake.calls_of("chat.postMessage")) == 1 + len(rig.thread())  # one message
    assert header_of(rig.message()).endswith("passed")
    thread = rig.thread()
    assert [line.split(":")[1] for line in thread] == [
        "arrow_forward",  # started, once
        "x",  # /build failed
        "x",  # so the pipeline ended, failed
        "leftwards_arrow_with_hook",  # carol reset /build
        "white_check_mark",  # and it ended again, passed
    ]
    # The duration is the clock's (0s, or 1s on a busy machine): only its form is ours.
    assert re.match(r":x: Finished: failed in \d+s, 1 Exec failed\.", thread[2]), thread[2]
    assert thread[3] == ":leftwards_arrow_with_hook: carol reset `/build`: runs again."


def test_a_bot_that_died_between_reading_events_and_sending_catches_up(rig: Rig) -> None:
    rig.executor.expect("/build").expect("/test")
    pipeline_id = rig.launch(TWO_STEPS)
    rig.report()
    rig.run(pipeline_id)
    # The hub had fed every event and saved its position, then the process died
    # before the reporter sent anything.
    rig.store.save_cursor("slack", rig.store.events(pipeline_id)[-1].id)
    rig.restart()

    rig.report()

    assert header_of(rig.message()).endswith("passed")
    assert record.open_messages(rig.store) == []
    assert rig.thread()[-1].startswith(":white_check_mark: Finished")


# --- rate limits and outages ------------------------------------------------------------------


def test_a_429_storm_pauses_every_call_for_retry_after_and_the_end_arrives_in_order(
    rig: Rig,
) -> None:
    rig.executor.expect("/build").expect("/test", ERROR, exit_code=1, output="nope\n")
    pipeline_id = rig.launch(TWO_STEPS)
    rig.report()
    rig.run(pipeline_id)
    rig.fake.fail_next(4, status=429, retry_after=3)
    errors_before = REGISTRY.get_sample_value(ERRORS, {"reporter": "slack"}) or 0.0

    call_times: list[float] = []
    for _ in range(20):
        made = rig.report(1.0)
        call_times += [rig.clock.now] * made

    statuses = [call.status for call in rig.fake.calls[1:]]
    assert statuses[:4] == [429, 429, 429, 429] and set(statuses[4:]) == {200}
    for number in range(4):  # each 429 held every call back for its Retry-After
        assert call_times[number + 1] - call_times[number] >= 3
    assert header_of(rig.message()).endswith("failed")
    assert [line.split(":")[1] for line in rig.thread()] == ["arrow_forward", "x", "x"]
    assert rig.thread()[-1].startswith(":x: Finished")
    assert REGISTRY.get_sample_value(ERRORS, {"reporter": "slack"}) == errors_before + 4


def test_slack_down_never_fails_a_build_and_the_message_catches_up(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.executor.expect("/build").expect("/test")
    rig.restart(api_url="http://127.0.0.1:9/api")  # nothing listens there
    pipeline_id = rig.launch(TWO_STEPS)

    rig.report()
    assert rig.run(pipeline_id).state is State.DONE
    rig.report()
    rig.restart()  # Slack is back (the same reporter would come back the same way)
    rig.fake.fail_next(2, status=500, error=None)
    rig.fake.fail_next(1, error="rate_limited")
    for _ in range(10):
        rig.report(30)

    assert "unreachable" in caplog.text and "will retry" in caplog.text
    assert header_of(rig.message()).endswith("passed")
    assert [line.split(":")[1] for line in rig.thread()] == ["arrow_forward", "white_check_mark"]


def test_slack_refusing_for_good_leaves_that_pipeline_alone(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.executor.expect("/only").expect("/only")
    cfg = config('[pipeline.main.only]\nrun = "true"')
    first = rig.launch(cfg)
    rig.fake.fail_next(method="chat.postMessage", error="not_in_channel")
    with caplog.at_level(logging.ERROR):
        rig.report()
    rig.run(first)
    second = rig.launch(cfg)
    rig.run(second)
    rig.report()

    assert "Slack refused (not_in_channel)" in caplog.text
    stored = record.load(rig.store, first)
    assert stored is not None and stored.gave_up == "not_in_channel"
    [message] = rig.fake.top_level(rig.fake.channel_id("ci"))  # only the second pipeline's
    assert header_of(message) == ":white_check_mark: acme/app pipeline 2 passed"


def test_a_pipeline_that_finished_long_before_slack_heard_of_it_is_not_announced(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reporter_module, "TOO_OLD", timedelta(0))
    rig.executor.expect("/only")
    pipeline_id = rig.launch(config('[pipeline.main.only]\nrun = "true"'))
    rig.run(pipeline_id)

    assert rig.report() == 0


# --- size and secrets ---------------------------------------------------------------------------


def test_a_200_node_pipeline_makes_a_bounded_number_of_slack_calls(
    make_rig: Callable[..., Rig],
) -> None:
    """200 Execs (20 failing) make over 600 run events.  Slack gets: one message, at most one
    edit per second the pipeline lives (plus the final one), and a thread of exactly 12
    replies (started, 10 failures (the cap), finished with "10 more failures")."""
    rig = make_rig(CI_BOT_MAX_PARALLEL="16")
    stages = []
    for stage in range(4):
        stages.append(f"[pipeline.main.s{stage}]\nparallel = true")
        for node in range(50):
            stages.append(f'[pipeline.main.s{stage}.n{node:02d}]\nrun = "true"')
            failing = node % 10 == 0
            rig.executor.expect(f"/s{stage}/n{node:02d}", ERROR if failing else "done")
    pipeline_id = rig.launch(config("\n".join(stages), root="parallel = true"))
    settled: list[Pipeline] = []
    runner = threading.Thread(target=lambda: settled.append(rig.run(pipeline_id)))

    runner.start()
    steps = 0

    def told_the_end() -> bool:
        return header_of(rig.message()).endswith(" failed") and rig.thread()[-1].startswith(
            ":x: Finished"
        )

    while runner.is_alive() or not told_the_end():
        assert steps < 2000, "Slack was never told the end"
        rig.report(0.25)  # the hub polls every 0.25 s
        steps += 1
        time.sleep(0.02)
    runner.join()

    seconds = steps * 0.25
    events = len(rig.store.events(pipeline_id))
    updates = len(rig.fake.calls_of("chat.update"))
    thread = rig.thread()
    assert settled[0].state is State.ERROR and events > 600
    assert len(rig.fake.calls_of("chat.postMessage")) == 1 + len(thread)
    assert updates <= seconds + 1
    assert len(thread) == 12
    assert thread[-1].endswith(
        "10 more failures are not shown here: "
        "<https://ci.example.com/pipelines/1|see the pipeline>."
    )
    assert len(rig.fake.calls) <= 1 + (seconds + 1) + 12
    assert rig.fake.calls[-1].status == 200
    assert [rig.report(5) for _ in range(3)] == [0, 0, 0]  # and then silence


def test_secrets_never_reach_slack_even_from_an_unmasked_log_or_a_commit_title(
    make_rig: Callable[..., Rig],
) -> None:
    token = "tok-9f8e7d6c5b4a3921"
    rig = make_rig(secrets={"DEPLOY_TOKEN": token})
    # FakeExecutor writes output as given: the executor's own masking is not in play.
    rig.executor.expect("/build").expect("/test", ERROR, output=f"token={token}\nfailed\n")
    pipeline_id = rig.launch(TWO_STEPS, message=f"Rotate {token} (oops)")
    rig.run(pipeline_id)
    rig.report()

    received = rig.fake.received_text()
    assert token not in received
    assert "Rotate *** (oops)" in all_text(rig.message())
    assert "token=***" in rig.thread()[1]


def test_a_secrets_base64_and_hex_forms_never_reach_slack(make_rig: Callable[..., Rig]) -> None:
    token = "tok-9f8e7d6c5b4a3921"
    encoded, hexed = base64.b64encode(token.encode()).decode(), token.encode().hex()
    rig = make_rig(secrets={"DEPLOY_TOKEN": token})
    output = f"b64={encoded}\nhex={hexed.upper()}\nfailed\n"
    rig.executor.expect("/build").expect("/test", ERROR, output=output)
    pipeline_id = rig.launch(TWO_STEPS, message=f"Rotate {encoded} (oops)")
    rig.run(pipeline_id)
    rig.report()

    received = rig.fake.received_text()
    assert encoded not in received and hexed.upper() not in received
    assert "Rotate *** (oops)" in all_text(rig.message())
    assert "b64=***" in rig.thread()[1] and "hex=***" in rig.thread()[1]
