"""Comment commands on pull requests, duplicate policies, and pull requests from forks —
driven through the webhook, the queue and the real engine on a FakeExecutor."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ci_bot.executors.fake import FakeExecutor
from tests.fakes.github import FakeGitHub
from tests.github.conftest import Bot, MakeBot
from tests.github.support import comment_payload, official, pr_payload
from tests.gitrepos import git, make_bare_remote, push_files, work_tree

REPO = "Codertocat/Hello-World"
CONFIG = """\
[pr]
pipeline = "ci"
{policy}
[pipeline.ci]
image = "busybox"
[pipeline.ci.lint]
run = "lint"
[pipeline.ci.test]
parallel = true
[pipeline.ci.test.unit]
run = "unit"
[pipeline.ci.test.deploy]
run = "deploy"
secrets = ["DEPLOY_TOKEN"]
"""


def remote(tmp_path: Path, policy: str = "") -> tuple[str, str]:
    url, sha = make_bare_remote(tmp_path, {"conducto.cfg": CONFIG.format(policy=policy)})
    git(work_tree(url), "push", "--quiet", "origin", "main:refs/pull/2/head")
    return url, sha


def new_head(url: str) -> str:
    sha = push_files(url, {"more.txt": "more\n"}, "more", branch="changes")
    git(work_tree(url), "push", "--quiet", "--force", "origin", "changes:refs/pull/2/head")
    return sha


@pytest.fixture
def executor() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
def bot(make_bot: MakeBot, fake_github: FakeGitHub, executor: FakeExecutor, tmp_path: Path) -> Bot:
    (tmp_path / "secrets.env").write_text("DEPLOY_TOKEN=s3cr3t-deploy-token\n")
    fake_github.roles |= {"maintainer": "maintain", "visitor": "read", "Codertocat": "admin"}
    return make_bot(fake_github, executor=executor, secrets_file=tmp_path / "secrets.env")


def settle(bot: Bot) -> None:
    bot.work()
    for pipeline in bot.store.pipelines():
        bot.services.engine.run_until_settled(pipeline.id)
    bot.report()


def comment(bot: Bot, fixtures_dir: Path, url: str, body: str, user: str) -> str:
    delivery = f"comment-{uuid.uuid4()}"
    response = bot.deliver(
        "issue_comment", comment_payload(fixtures_dir, url, body, user=user), delivery=delivery
    )
    assert response.status_code == 202, response.get_json()
    settle(bot)
    return bot.store.delivery(delivery).outcome


def failed_pr(
    bot: Bot, executor: FakeExecutor, fake: FakeGitHub, fixtures_dir: Path, url: str, sha: str
) -> int:
    executor.expect("/lint").expect("/test/unit", "error").expect("/test/deploy")
    fake.add_pull(REPO, 2, sha, REPO)
    bot.deliver("pull_request", pr_payload(fixtures_dir, url, sha))
    settle(bot)
    (pipeline,) = bot.store.pipelines()
    assert pipeline.state.value == "error"
    return pipeline.id


def test_rerun_by_a_writer_resets_only_the_failed_nodes(
    bot: Bot, executor: FakeExecutor, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    pipeline_id = failed_pr(bot, executor, fake_github, fixtures_dir, url, sha)
    executor.expect("/test/unit")
    outcome = comment(bot, fixtures_dir, url, "Flaky.\n\n/rerun", "maintainer")
    assert outcome == f"/rerun: pipeline {pipeline_id}: reset /test/unit"
    executor.assert_all_used()
    assert [s.node_path for s in executor.ran].count("/lint") == 1
    assert bot.store.pipeline(pipeline_id).state.value == "done"
    assert fake_github.reactions == [(REPO, 492700400, "+1")]  # the comment's id
    assert fake_github.comments == []
    assert fake_github.latest("ci/test").conclusion == "success"


def test_rerun_by_a_reader_is_refused_politely_and_nothing_runs(
    bot: Bot, executor: FakeExecutor, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    pipeline_id = failed_pr(bot, executor, fake_github, fixtures_dir, url, sha)
    ran = len(executor.ran)
    outcome = comment(bot, fixtures_dir, url, "/rerun", "visitor")
    assert outcome == f"refused: visitor is read on {REPO}"
    assert len(executor.ran) == ran and bot.store.pipeline(pipeline_id).state.value == "error"
    ((where, number, text),) = fake_github.comments
    assert (where, number) == (REPO, 2)
    assert "only people with write, maintain or admin permission" in text
    assert fake_github.reactions == []


def test_rerun_node_all_and_what_cannot_be_done(
    bot: Bot, executor: FakeExecutor, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    pipeline_id = failed_pr(bot, executor, fake_github, fixtures_dir, url, sha)
    executor.expect("/lint")
    assert comment(bot, fixtures_dir, url, "/rerun /lint", "maintainer") == (
        f"/rerun /lint: pipeline {pipeline_id}: reset /lint"
    )
    assert "has no node /nope" in comment(bot, fixtures_dir, url, "/rerun /nope", "maintainer")
    assert "pipeline 1 has no node /nope" in fake_github.comments[-1][2]
    executor.expect("/lint").expect("/test/unit").expect("/test/deploy")
    outcome = comment(bot, fixtures_dir, url, "/rerun all", "Codertocat")
    assert outcome.startswith("/rerun all: pipeline 2 launched for pr")
    assert bot.store.pipeline(2).state.value == "done"
    assert "nothing failed in pipeline 2" in comment(bot, fixtures_dir, url, "/rerun", "maintainer")
    executor.assert_all_used()
    assert [content for _, _, content in fake_github.reactions] == [
        "+1",
        "confused",
        "+1",
        "confused",
    ]


def test_a_new_push_cancels_the_old_pipeline_by_default(
    bot: Bot, executor: FakeExecutor, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    bot.deliver("pull_request", pr_payload(fixtures_dir, url, sha))
    bot.work()
    newer = new_head(url)
    bot.deliver("pull_request", pr_payload(fixtures_dir, url, newer, action="synchronize"))
    bot.work()
    old, new = sorted(bot.store.pipelines(), key=lambda p: p.id)
    assert (old.sha, old.state.value, old.cancel_requested) == (sha, "cancelled", True)
    assert (new.sha, new.state.value) == (newer, "pending")


@pytest.mark.parametrize("policy", ["suppress-new", "defer", "allow"])
def test_duplicate_policies(
    policy: str, bot: Bot, executor: FakeExecutor, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path, f'duplicate = "{policy}"')
    bot.deliver("pull_request", pr_payload(fixtures_dir, url, sha))
    bot.work()
    newer = new_head(url)
    bot.deliver(
        "pull_request",
        pr_payload(fixtures_dir, url, newer, action="synchronize"),
        delivery="second",
    )
    bot.work()
    pipelines = bot.store.pipelines()
    second = bot.store.delivery("second")
    if policy == "allow":
        assert len(pipelines) == 2 and all(p.state.value == "pending" for p in pipelines)
        return
    assert [p.sha for p in pipelines] == [sha]
    if policy == "suppress-new":
        assert (second.status, second.outcome) == ("handled", "suppressed: #1 still active")
        return
    assert (second.status, second.outcome) == ("deferred", "waits for #1 to finish")
    executor.expect("/lint").expect("/test/unit").expect("/test/deploy")
    bot.services.engine.run_until_settled(1)
    bot.report()  # the "finished" event lets the deferred delivery go
    bot.work()
    assert [p.sha for p in bot.store.pipelines()] == [newer, sha]
    assert bot.store.delivery("second").status == "handled"


def test_a_fork_waits_for_ok_to_test_pinned_to_its_head_and_never_gets_secrets(
    bot: Bot, executor: FakeExecutor, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    fork = pr_payload(fixtures_dir, url, sha, author="visitor", fork="visitor/Hello-World")
    fake_github.add_pull(REPO, 2, sha, "visitor/Hello-World", author="visitor")
    assert bot.deliver("pull_request", fork).status_code == 202
    settle(bot)
    assert bot.store.pipelines() == []
    assert "/ok-to-test" in fake_github.comments[-1][2] and sha[:12] in fake_github.comments[-1][2]

    assert comment(bot, fixtures_dir, url, "/ok-to-test", "visitor").startswith("refused")
    assert bot.store.pipelines() == []

    executor.expect("/lint").expect("/test/unit")  # /test/deploy needs a secret: it never runs
    outcome = comment(bot, fixtures_dir, url, "/ok-to-test", "maintainer")
    assert outcome.startswith("/ok-to-test: pipeline 1 launched for pr at " + sha[:12])
    executor.assert_all_used()
    pipeline = bot.store.pipeline(1)
    assert not pipeline.trusted and pipeline.sha == sha
    deploy = {n.path: n for n in bot.store.nodes(1)}["/test/deploy"]
    assert "never given to pull requests from forks" in deploy.message
    assert all("s3cr3t" not in str(spec.env) + str(spec.secrets) for spec in executor.ran)
    everything_sent = str([(c.path, c.body) for c in fake_github.calls])
    assert "s3cr3t-deploy-token" not in everything_sent

    newer = new_head(url)  # a later push needs a new approval
    bot.deliver(
        "pull_request",
        pr_payload(
            fixtures_dir,
            url,
            newer,
            action="synchronize",
            author="visitor",
            fork="visitor/Hello-World",
        ),
    )
    settle(bot)
    assert [p.sha for p in bot.store.pipelines()] == [sha]
    assert newer[:12] in fake_github.comments[-1][2]


def test_a_fork_by_a_writer_runs_at_once_but_without_secrets(
    bot: Bot, executor: FakeExecutor, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    fork = pr_payload(fixtures_dir, url, sha, author="maintainer", fork="maintainer/Hello-World")
    executor.expect("/lint").expect("/test/unit")
    bot.deliver("pull_request", fork)
    settle(bot)
    (pipeline,) = bot.store.pipelines()
    assert not pipeline.trusted and pipeline.state.value == "error"  # deploy refused its secret
    executor.assert_all_used()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p["comment"]["user"].update(type="Bot"), "a comment by a bot"),
        (
            lambda p: p["comment"].update(body="thanks!\n<!-- ci-bot -->\n/rerun"),
            "a comment by a bot",
        ),
        (lambda p: p["issue"].pop("pull_request"), "not on a pull request"),
        (lambda p: p["comment"].update(body="```\n/rerun\n```"), "no command"),
        (lambda p: p.update(action="edited", changes={}), "only new comments"),
    ],
)
def test_comments_that_are_not_commands_are_ignored(
    change: object, reason: str, bot: Bot, fixtures_dir: Path, tmp_path: Path
) -> None:
    payload = comment_payload(fixtures_dir, "file:///nowhere", "/rerun", user="maintainer")
    change(payload)  # type: ignore[operator]
    response = bot.deliver("issue_comment", payload)
    assert response.status_code == 200 and reason in response.get_json()["ignored"]


def test_a_check_suite_rerequest_resets_the_failed_nodes_of_that_commit(
    bot: Bot, executor: FakeExecutor, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = remote(tmp_path)
    pipeline_id = failed_pr(bot, executor, fake_github, fixtures_dir, url, sha)
    suite = official(fixtures_dir, "check_suite/rerequested.payload.json")
    suite["check_suite"]["head_sha"] = sha
    executor.expect("/test/unit")
    bot.deliver("check_suite", suite, delivery="suite")
    settle(bot)
    assert (
        bot.store.delivery("suite").outcome
        == f"reset 1 failed node(s) in 1 pipeline(s) of {sha[:12]}"
    )
    assert bot.store.pipeline(pipeline_id).state.value == "done"
    executor.assert_all_used()
