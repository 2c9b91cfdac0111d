"""The message's Block Kit, from a pipeline's view: what it says, its links, Slack's limits."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block

from ci_bot.store.records import Pipeline
from ci_bot.tree.states import State
from integrations.slack.blocks import OPEN_ACTION, RERUN_ACTION, message
from integrations.slack.mrkdwn import code_block, escape, link, truncate, who
from integrations.slack.view import FailedExec, Links, PipelineView, Stage, github_web_url

CREATED = datetime(2024, 5, 1, 12, 0, 0)


def pipeline(**changes: Any) -> Pipeline:
    base = Pipeline(
        id=7,
        repo="acme/app",
        event="pr",
        branch="feature/login",
        base_branch="main",
        tag="",
        pr="12",
        sha="0123456789abcdef0123456789abcdef01234567",
        author="Alice Example",
        title="Fix the login form",
        entry="[pr] #1 (line 1)",
        config_file="conducto.cfg",
        tree_json="{}",
        source_dir="",
        state=State.ERROR,
        cancel_requested=False,
        trusted=True,
        lease_owner=None,
        lease_until=None,
        created_at=CREATED,
        finished_at=datetime(2024, 5, 1, 12, 1, 12),
    )
    return dataclasses.replace(base, **changes)


LINKS = Links(
    pipeline="https://ci.example.com/pipelines/7",
    repo="https://github.com/acme/app",
    ref="https://github.com/acme/app/pull/12",
    commit="https://github.com/acme/app/commit/0123456789abcdef0123456789abcdef01234567",
)
STAGES = (
    Stage("lint", State.DONE, 12.0),
    Stage(
        "test", State.ERROR, 40.0, (FailedExec("/test/unit", State.ERROR, "exited with code 3"),)
    ),
    Stage("deploy", State.PENDING, None),
)
COUNTS = {"pending": 1, "running": 0, "done": 4, "error": 1, "skipped": 0, "cancelled": 0}


def view(**changes: Any) -> PipelineView:
    base = PipelineView(pipeline(), State.ERROR, STAGES, COUNTS, LINKS, can_rerun=True)
    return dataclasses.replace(base, **changes)


def text_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def assert_within_slack_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= 50
    for raw in blocks:
        parsed = Block.parse(raw)
        assert parsed is not None
        parsed.to_dict()  # slack-sdk's validators: raise past a limit


def test_a_failed_pull_request_shows_where_what_who_the_stages_and_two_buttons() -> None:
    text, blocks = message(view())

    assert text == "acme/app pipeline 7 failed"
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context", "actions"]
    assert blocks[0]["text"]["text"] == ":x: acme/app pipeline 7 failed"
    about = blocks[1]["text"]["text"]
    assert "*Pull request* <https://github.com/acme/app/pull/12|#12>" in about
    assert "`feature/login` → `main`" in about
    assert f"<{LINKS.commit}|0123456>" in about and "Fix the login form" in about
    assert "*Author* Alice Example" in about
    assert "<https://ci.example.com/pipelines/7|Pipeline 7>" in about
    assert "<https://github.com/acme/app|acme/app on GitHub>" in about
    stages = blocks[2]["text"]["text"].splitlines()
    assert stages == [
        ":white_check_mark: *lint*  12s",
        ":x: *test*  40s",
        "      :x: `/test/unit` exited with code 3",
        ":white_circle: *deploy*",
    ]
    footer = blocks[3]["elements"][0]["text"]
    assert footer == "pending 1 · running 0 · done 4 · error 1 · skipped 0  |  took 1m12s"
    rerun, open_ = blocks[4]["elements"]
    assert (rerun["action_id"], rerun["value"], rerun["text"]["text"]) == (
        RERUN_ACTION,
        "7",
        "Rerun failed",
    )
    assert (open_["action_id"], open_["url"]) == (OPEN_ACTION, LINKS.pipeline)
    assert_within_slack_limits(blocks)


def test_a_running_pipeline_has_no_buttons_and_says_when_it_started() -> None:
    running = view(
        pipeline=pipeline(finished_at=None, state=State.RUNNING),
        state=State.RUNNING,
        stages=(Stage("lint", State.RUNNING, None),),
    )

    text, blocks = message(running)

    assert text == "acme/app pipeline 7 running"
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]
    footer = blocks[3]["elements"][0]["text"]
    epoch = 1714564800  # 2024-05-01 12:00:00 UTC
    assert footer.endswith(
        f"started <!date^{epoch}^{{date_short_pretty}} at {{time}}|2024-05-01 12:00 UTC>"
    )


def test_a_failure_while_other_execs_still_run_is_failing_not_failed() -> None:
    text, _ = message(view(pipeline=pipeline(finished_at=None)))
    assert text == "acme/app pipeline 7 failing"


def test_without_a_signing_secret_only_the_open_button_is_offered() -> None:
    _, blocks = message(view(can_rerun=False))
    assert [e["action_id"] for e in blocks[-1]["elements"]] == [OPEN_ACTION]


def test_a_passed_push_links_its_branch_and_has_no_buttons() -> None:
    passed = view(
        pipeline=pipeline(event="push", pr="", branch="main", state=State.DONE),
        state=State.DONE,
        links=dataclasses.replace(LINKS, ref="https://github.com/acme/app/tree/main"),
    )
    text, blocks = message(passed)
    assert text == "acme/app pipeline 7 passed"
    assert "*Branch* <https://github.com/acme/app/tree/main|main>" in blocks[1]["text"]["text"]
    assert blocks[-1]["type"] == "context"


def test_what_a_repository_controls_is_escaped_so_it_pings_nobody_and_breaks_no_link() -> None:
    hostile = view(
        pipeline=pipeline(
            title="<!channel> deploy now & <https://evil.example|click>",
            branch="x|y>z",
            author="<@U0BOSS>",
        ),
        stages=(
            Stage("<!here>", State.ERROR, 1.0, (FailedExec("/a", State.ERROR, "<!everyone>"),)),
        ),
    )

    _, blocks = message(hostile)

    shown = text_of(blocks)
    for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U0BOSS>", "<https://evil"):
        assert raw not in shown
    assert "&lt;!channel&gt; deploy now &amp; &lt;https://evil.example|click&gt;" in shown
    assert "`x|y&gt;z`" in shown  # inside code, where | and > cannot end anything


def test_a_200_stage_pipeline_with_200_failures_stays_within_slack_limits() -> None:
    failures = tuple(FailedExec(f"/s{i}/{'n' * 150}", State.ERROR, "x" * 500) for i in range(200))
    stages = tuple(
        Stage(f"stage-{i}-{'long' * 40}", State.ERROR, 3.0, failures[i : i + 1]) for i in range(200)
    )
    big = view(stages=stages, pipeline=pipeline(title="t" * 5000, repo="acme/" + "r" * 300))

    _, blocks = message(big)

    assert_within_slack_limits(blocks)
    assert len(blocks[0]["text"]["text"]) <= 150
    stages_text = blocks[2]["text"]["text"]
    assert len(stages_text) <= 3000
    assert stages_text.endswith("…")  # cut at the limit, visibly


def test_the_stage_list_says_how_much_it_leaves_out() -> None:
    stages = tuple(
        Stage(f"s{i}", State.ERROR, 1.0, (FailedExec(f"/s{i}/x", State.ERROR, ""),))
        for i in range(30)
    )
    _, blocks = message(view(stages=stages))
    lines = blocks[2]["text"]["text"].splitlines()
    assert lines[-2:] == ["… and 5 more stages", "… and 20 more failed Execs"]


def test_github_links_follow_the_api_url_and_local_repositories_get_none() -> None:
    assert github_web_url("https://api.github.com") == "https://github.com"
    assert github_web_url("https://ghe.example.com/api/v3") == "https://ghe.example.com"
    assert github_web_url("http://127.0.0.1:9999") == ""


def test_mrkdwn_helpers_escape_cut_and_mention() -> None:
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert link("https://x.example/a|b", "x|<y>") == "<https://x.example/a%7Cb|x¦&lt;y&gt;>"
    assert truncate("a &amp; b", 6) == "a …"  # never half an entity
    assert truncate("see <https://x.example|x>", 15) == "see …"  # never half a link
    assert who("slack:U0ALICE123 (alice)") == "<@U0ALICE123>"
    assert who("bob") == "bob" and who("") == "someone" and who("<!channel>") == "&lt;!channel&gt;"
    block = code_block([f"line {i}" for i in range(100)], 60)
    assert block.startswith("```\n…\n") and block.endswith("line 99\n```") and len(block) <= 60
    assert "ˋˋˋ" in code_block(["```evil```"], 100)
