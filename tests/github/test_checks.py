"""Check runs per stage, driven by the real engine on a FakeExecutor: created queued,
completed with the right conclusion, annotated from failing logs, rerun from
GitHub's buttons; commit statuses with a personal token; outages retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from ci_bot.executors.fake import FakeExecutor
from ci_bot.store.store import Store
from ci_bot.tree.states import State
from integrations.github.checks import ChecksReporter
from tests.fakes.github import FakeGitHub
from tests.github.conftest import Bot, MakeBot
from tests.github.support import PUBLIC_URL, official, pr_payload
from tests.gitrepos import git, make_bare_remote, work_tree

ERRORS = "ci_bot_reporter_errors_total"
CONFIG = """\
[pr]
pipeline = "ci"

[pipeline.ci]
image = "busybox"
[pipeline.ci.lint]
parallel = true
[pipeline.ci.lint.ruff]
run = "ruff check ."
[pipeline.ci.lint.mypy]
run = "mypy src"
[pipeline.ci.test]
run = "pytest"
[pipeline.ci.docs]
run = "make docs"
when = "{event} == push"
"""

MYPY_OUTPUT = """\
src/app.py:2:5: error: Incompatible types in assignment  [assignment]
/workspace/src/app.py:3: note: see the docs
elsewhere/gone.py:1: error: not in this commit
Found 1 error in 1 file (checked 1 source file)
"""


def remote(tmp_path: Path, config: str = CONFIG) -> tuple[str, str]:
    files = {"conducto.cfg": config, "src/app.py": "import os\nx: int = 'a'\ny = 1\n"}
    url, sha = make_bare_remote(tmp_path, files)
    git(work_tree(url), "push", "--quiet", "origin", "main:refs/pull/2/head")
    return url, sha


def run_pr(bot: Bot, fixtures_dir: Path, url: str, sha: str) -> int:
    assert bot.deliver("pull_request", pr_payload(fixtures_dir, url, sha)).status_code == 202
    bot.work()
    (pipeline,) = bot.store.pipelines(limit=1)
    bot.report()  # the pipeline is planned: its check runs appear, queued
    bot.services.engine.run_until_settled(pipeline.id)
    bot.report()
    return pipeline.id


def test_each_stage_gets_a_check_run_with_the_right_conclusion_and_annotations(
    make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    executor = FakeExecutor().expect("/lint/ruff").expect("/lint/mypy", "error", output=MYPY_OUTPUT)
    bot = make_bot(fake_github, executor=executor)
    pipeline_id = run_pr(bot, fixtures_dir, url, sha)
    executor.assert_all_used()

    assert fake_github.tokens_issued == [1]  # one installation token, cached for every call
    lint, test, docs = (fake_github.latest(f"ci/{name}") for name in ("lint", "test", "docs"))
    assert lint.history[0]["status"] == "queued" and lint.head_sha == sha
    assert (lint.status, lint.conclusion) == ("completed", "failure")
    assert lint.details_url == f"{PUBLIC_URL}/pipelines/{pipeline_id}/nodes/lint"
    assert lint.external_id == f"{pipeline_id}:/lint"
    assert "| `/lint/mypy` | error (exited with code 1) |" in lint.output["summary"]
    assert f"[log]({PUBLIC_URL}/pipelines/{pipeline_id}/nodes/lint/ruff)" in lint.output["summary"]
    assert "Incompatible types in assignment" in lint.output["text"]
    assert [(a["path"], a["start_line"], a.get("start_column"), a["annotation_level"])
            for a in lint.annotations] == [
        ("src/app.py", 2, 5, "failure"),
        ("src/app.py", 3, None, "notice"),
    ]  # fmt: skip
    assert [action["identifier"] for action in lint.actions] == ["rerun-failed"]
    assert (test.status, test.conclusion) == ("completed", "neutral")  # never ran
    assert (docs.status, docs.conclusion) == ("completed", "skipped")  # when: push only


def test_rerun_from_the_check_run_button_makes_a_new_green_check_run(
    make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    executor = FakeExecutor().expect("/lint/ruff").expect("/lint/mypy", "error", output="boom\n")
    bot = make_bot(fake_github, executor=executor)
    pipeline_id = run_pr(bot, fixtures_dir, url, sha)
    failed = fake_github.latest("ci/lint")

    action = official(fixtures_dir, "check_run/requested_action.payload.json")
    action["repository"]["full_name"] = "Codertocat/Hello-World"
    action["check_run"]["id"] = failed.id
    action["check_run"]["external_id"] = failed.external_id
    action["requested_action"]["identifier"] = "rerun-failed"
    executor.expect("/lint/mypy").expect("/test")
    assert bot.deliver("check_run", action, delivery="button").status_code == 202
    bot.work()
    assert (
        bot.store.delivery("button").outcome == f"pipeline {pipeline_id}: reset 1 node(s) of /lint"
    )
    bot.report()
    bot.services.engine.run_until_settled(pipeline_id)
    bot.report()
    executor.assert_all_used()
    assert [spec.node_path for spec in executor.ran].count(
        "/lint/ruff"
    ) == 1  # only the failed node again

    lint_runs = fake_github.runs_named("ci/lint")
    assert len(lint_runs) == 2 and lint_runs[0].conclusion == "failure"
    assert (lint_runs[1].conclusion, lint_runs[1].annotations) == ("success", [])
    assert fake_github.latest("ci/test").conclusion == "success"


def test_with_a_personal_token_stages_are_commit_statuses(
    make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    long_failure = "x" * 500
    executor = (
        FakeExecutor().expect("/lint/ruff").expect("/lint/mypy", "error", output=long_failure)
    )
    bot = make_bot(fake_github, mode="token", executor=executor)
    pipeline_id = run_pr(bot, fixtures_dir, url, sha)
    assert fake_github.check_runs == {}
    final = {
        body["context"]: body for status_sha, body in fake_github.statuses if status_sha == sha
    }
    assert final["ci/lint"]["state"] == "failure"
    assert final["ci/test"]["state"] == "success"  # neutral: nothing ran, nothing failed
    assert final["ci/lint"]["target_url"] == f"{PUBLIC_URL}/pipelines/{pipeline_id}/nodes/lint"
    assert all(len(body["description"]) <= 140 for _, body in fake_github.statuses)
    assert fake_github.statuses[0][1]["state"] == "pending"


def test_github_outages_are_retried_and_never_change_the_result(
    make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    executor = FakeExecutor().expect("/lint/ruff").expect("/lint/mypy").expect("/test")
    bot = make_bot(fake_github, executor=executor)
    reporter = next(r for r in bot.services.reporters if isinstance(r, ChecksReporter))
    reporter.api.client.backoff = 0.01
    reporter.retry_base = 0.0  # the test's flushes come faster than the reporter's backoff
    fake_github.fail("POST", r"/check-runs$", 502, times=2)  # retried within one flush
    fake_github.fail("PATCH", r"/check-runs/\d+$", 500, times=8)  # down for two flushes
    errors_before = REGISTRY.get_sample_value(ERRORS, {"reporter": reporter.name}) or 0.0
    pipeline_id = run_pr(bot, fixtures_dir, url, sha)
    assert bot.store.pipeline(pipeline_id).state.value == "done"
    assert fake_github.latest("ci/lint").status == "queued"  # the updates all failed so far
    bot.report()  # still down
    assert fake_github.latest("ci/lint").status == "queued"
    bot.report()  # GitHub is back: the final state goes out
    assert {run.name: run.conclusion for run in fake_github.check_runs.values()} == {
        "ci/lint": "success",
        "ci/test": "success",
        "ci/docs": "skipped",
    }
    assert len([c for c in fake_github.calls_to("PATCH", "/check-runs/") if c.status == 500]) == 8
    # each flush GitHub failed is one reporter error on /metrics (the 502s were retried away)
    assert REGISTRY.get_sample_value(ERRORS, {"reporter": reporter.name}) == errors_before + 2


def test_updates_are_coalesced_and_the_final_one_always_sent(
    make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path, CONFIG.replace("[pipeline.ci.docs]", "[pipeline.ci.x]"))
    bot = make_bot(fake_github, executor=FakeExecutor())
    now = [100.0]
    reporter = next(r for r in bot.services.reporters if isinstance(r, ChecksReporter))
    reporter._clock = lambda: now[0]
    bot.deliver("pull_request", pr_payload(fixtures_dir, url, sha))
    bot.work()
    (pipeline,) = bot.store.pipelines()
    store: Store = bot.store
    bot.report()
    lint_id = fake_github.latest("ci/lint").id

    def patches() -> int:
        return len(fake_github.calls_to("PATCH", f"/check-runs/{lint_id}$"))

    log = str(tmp_path / "logs")
    ruff = store.queue(pipeline.id, "/lint/ruff", log)
    store.mark_running(ruff.id, "c1")
    now[0] += 0.2
    bot.report()
    assert patches() == 0  # in progress, but the queued state went out 0.2 s ago
    now[0] += 1.0
    bot.report()
    assert patches() == 1 and fake_github.latest("ci/lint").status == "in_progress"
    mypy = store.queue(pipeline.id, "/lint/mypy", log)
    store.mark_running(mypy.id, "c2")
    store.finish(ruff.id, State.DONE, exit_code=0)
    now[0] += 0.1
    bot.report()
    assert patches() == 1  # changed, but within the second: coalesced
    store.finish(mypy.id, State.ERROR, exit_code=1, message="exited with code 1")
    bot.report()
    assert patches() == 2  # the final state is never held back
    assert fake_github.latest("ci/lint").conclusion == "failure"


@pytest.mark.parametrize("mode", ["app", "token"])
def test_a_broken_config_fails_a_check_named_after_the_file_at_the_right_line(
    mode: str, make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    broken = CONFIG.replace('run = "pytest"', 'runn = "pytest"')
    url, sha = remote(tmp_path, broken)
    bot = make_bot(fake_github, mode=mode)
    bot.deliver("pull_request", pr_payload(fixtures_dir, url, sha), delivery="broken")
    bot.work()
    assert bot.store.pipelines() == []
    line = broken.splitlines().index('runn = "pytest"') + 1
    assert f"conducto.cfg:{line}:" in bot.store.delivery("broken").outcome
    if mode == "token":
        ((status_sha, status),) = fake_github.statuses
        assert (status_sha, status["state"], status["context"]) == (sha, "failure", "conducto.cfg")
        assert status["description"].startswith(f"line {line}: ")
        return
    run = fake_github.latest("conducto.cfg")
    assert (run.head_sha, run.status, run.conclusion) == (sha, "completed", "failure")
    ((annotation),) = run.annotations
    assert (annotation["path"], annotation["start_line"]) == ("conducto.cfg", line)
    assert "did you mean 'run'" in annotation["message"]


def test_a_pull_request_no_entry_selects_gets_a_neutral_check(
    make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path, CONFIG.replace("[pr]\n", '[pr]\nfilter = "{branch} == nope"\n'))
    bot = make_bot(fake_github)
    bot.deliver("pull_request", pr_payload(fixtures_dir, url, sha))
    bot.work()
    run = fake_github.latest("ci-bot")
    assert (run.conclusion, bot.store.pipelines()) == ("neutral", [])
    assert "{branch} == nope" in run.output["summary"]


def test_re_run_on_a_check_resets_that_whole_stage(
    make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    executor = FakeExecutor().expect("/lint/ruff").expect("/lint/mypy", "error", output="boom\n")
    bot = make_bot(fake_github, executor=executor)
    pipeline_id = run_pr(bot, fixtures_dir, url, sha)
    rerequested = official(fixtures_dir, "check_run/rerequested.payload.json")
    rerequested["repository"]["full_name"] = "Codertocat/Hello-World"
    rerequested["check_run"]["id"] = fake_github.latest("ci/lint").id  # no external_id: by id
    executor.expect("/lint/ruff").expect("/lint/mypy").expect("/test")
    bot.deliver("check_run", rerequested, delivery="again")
    bot.work()
    assert (
        bot.store.delivery("again").outcome == f"pipeline {pipeline_id}: reset 2 node(s) of /lint"
    )
    bot.services.engine.run_until_settled(pipeline_id)
    bot.report()
    executor.assert_all_used()
    assert [run.conclusion for run in fake_github.runs_named("ci/lint")] == ["failure", "success"]


def test_more_than_fifty_annotations_go_out_in_batches_of_fifty(
    make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    output = "".join(f"src/app.py:{n}: error: problem {n}\n" for n in range(1, 121))
    executor = FakeExecutor().expect("/lint/ruff").expect("/lint/mypy", "error", output=output)
    bot = make_bot(fake_github, executor=executor)
    run_pr(bot, fixtures_dir, url, sha)
    lint = fake_github.latest("ci/lint")
    assert [a["start_line"] for a in lint.annotations] == list(range(1, 121))
    sizes = [len((body.get("output") or {}).get("annotations", [])) for body in lint.history]
    assert sorted(size for size in sizes if size) == [20, 50, 50]  # the fake refuses > 50
