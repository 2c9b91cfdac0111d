"""The thread's story from run events: which events get a reply, and how each reads."""

from __future__ import annotations

from datetime import datetime

from ci_bot.store.records import RunEvent
from integrations.slack import story
from integrations.slack.story import FailureDetails, Telling, tellings

AT = datetime(2024, 5, 1, 12, 0, 0)


def event(number: int, kind: str, state: str = "", path: str = "/", **more: str) -> RunEvent:
    return RunEvent(
        id=number,
        pipeline_id=1,
        path=path,
        kind=kind,
        state=state,
        message=more.get("message", ""),
        actor=more.get("actor", ""),
        created_at=AT,
    )


A_RUN = [
    event(1, "created", "pending", message="from [push] #1 (line 1)"),
    event(2, "state", "queued", "/build"),
    event(3, "pipeline", "queued"),
    event(4, "state", "running", "/build"),
    event(5, "pipeline", "running"),
    event(6, "state", "done", "/build"),
    event(7, "state", "error", "/test", message="exited with code 3"),
    event(8, "retry", "pending", "/test", message="retrying (1 of 1)"),
    event(9, "state", "worker_error", "/test", message="image x is missing"),
    event(10, "finished", "error"),
    event(11, "reset", "pending", "/test", actor="slack:U0ALICE123 (alice)"),
    event(12, "reset", "pending", "/lint", actor="slack:U0ALICE123 (alice)"),
    event(13, "reset", "pending", "/deploy", actor="bob"),
    event(14, "pipeline", "queued"),
    event(15, "skip", "skipped", "/deploy", actor="bob"),
    event(16, "unskip", "pending", "/deploy", actor="bob"),
    event(17, "cancel", "cancelled", actor="bob"),
    event(18, "finished", "cancelled"),
]


def test_a_run_tells_start_failures_retries_resets_skips_cancel_and_ends() -> None:
    told = [(t.kind, t.last_event, t.path, t.paths, t.actor) for t in tellings(A_RUN, False)]

    assert told == [
        ("started", 2, "/", (), ""),
        ("failure", 7, "/test", (), ""),
        ("retry", 8, "/test", (), ""),
        ("failure", 9, "/test", (), ""),
        ("finished", 10, "/", (), ""),
        # a rerun resets two nodes at once: one reply, who asked for it
        ("reset", 12, "/", ("/test", "/lint"), "slack:U0ALICE123 (alice)"),
        ("reset", 13, "/", ("/deploy",), "bob"),
        ("skip", 15, "/deploy", (), "bob"),
        ("unskip", 16, "/deploy", (), "bob"),
        ("cancel", 17, "/", (), "bob"),
        ("finished", 18, "/", (), ""),
    ]


def test_started_is_told_once_even_when_the_story_resumes_later() -> None:
    assert [t.kind for t in tellings(A_RUN[13:], True)] == ["skip", "unskip", "cancel", "finished"]
    assert tellings([event(3, "pipeline", "running")], False)[0].kind == "started"
    assert tellings([event(3, "pipeline", "running")], True) == []


def test_a_failure_reply_has_the_path_the_reason_the_exit_code_and_the_log_tail() -> None:
    telling = Telling("failure", 7, "/test/unit", state="error", message="exited with code 3")
    details = FailureDetails(3, 2, ["collected 3 items", "FAILED <test_x> & y"], "https://ci/x")

    text = story.failure(telling, details)

    assert text.splitlines() == [
        ":x: `/test/unit` failed: exited with code 3",
        "attempt 2 · exit code 3 · <https://ci/x|full log>",
        "```",
        "collected 3 items",
        "FAILED &lt;test_x&gt; &amp; y",
        "```",
    ]


def test_an_infrastructure_failure_says_the_node_could_not_run() -> None:
    telling = Telling("failure", 9, "/t", state="worker_error", message="image x is missing")
    text = story.failure(telling, FailureDetails(None, 1, [], "https://ci/t"))
    assert text.startswith(":warning: `/t` could not run: image x is missing\nattempt 1 · <")
    assert "(no output)" in text


def test_a_long_log_keeps_its_last_lines_within_the_reply_limit() -> None:
    telling = Telling("failure", 7, "/t", state="error", message="exited with code 1")
    lines = [f"line {i} " + "x" * 200 for i in range(500)]
    text = story.failure(telling, FailureDetails(1, 1, lines, "https://ci/t"))
    assert len(text) < 3000
    assert text.endswith("line 499 " + "x" * 200 + "\n```")


def test_resets_skips_and_cancels_say_who_asked() -> None:
    rerun = Telling("reset", 12, paths=("/test", "/lint"), actor="slack:U0ALICE123 (alice)")
    assert story.reset(rerun) == (
        ":leftwards_arrow_with_hook: <@U0ALICE123> reset `/test`, `/lint`: run again."
    )
    one = Telling("reset", 13, paths=("/deploy",), actor="bob")
    assert story.reset(one) == ":leftwards_arrow_with_hook: bob reset `/deploy`: runs again."
    assert story.skip(Telling("skip", 15, "/deploy", actor="bob")) == (
        ":fast_forward: bob skipped `/deploy`."
    )
    assert story.skip(Telling("unskip", 16, "/deploy", actor="")) == (
        ":arrow_forward: someone unskipped `/deploy`."
    )
    assert story.cancel(Telling("cancel", 17, actor="bob")) == (
        ":no_entry_sign: bob cancelled the pipeline."
    )


def test_finished_gives_the_total_time_and_what_failed() -> None:
    done = Telling("finished", 10, state="done")
    assert story.finished(done, 72.4, 0, 0, "u") == ":white_check_mark: Finished: passed in 1m12s."
    failed = Telling("finished", 10, state="error")
    assert story.finished(failed, 5, 12, 2, "https://ci/p/1") == (
        ":x: Finished: failed in 5s, 12 Execs failed. 2 more failures are not shown here: "
        "<https://ci/p/1|see the pipeline>."
    )
    cancelled = Telling("finished", 18, state="cancelled")
    assert story.finished(cancelled, 3, 0, 0, "u") == (
        ":information_source: Finished: cancelled after 3s."
    )
