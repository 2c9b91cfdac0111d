"""Every official example payload of the events ci-bot handles, signed, gets the right
answer and the right effect on pipelines.

The payloads are GitHub's own (octokit/webhooks), validated against their JSON
Schemas; only the repository's clone URL is pointed at a local bare repository
standing in for Codertocat/Hello-World, and the head commit replaced by one that
exists there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.github.conftest import MakeBot
from tests.github.support import official, retarget, validate_payload
from tests.gitrepos import git, make_bare_remote, push_files, work_tree

CONFIG = """\
[pr]
pipeline = "ci"
[[push]]
pipeline = "ci"
[create-tag]
pipeline = "ci"
[delete-tag]
pipeline = "ci"
[create-branch]
pipeline = "ci"
[delete-branch]
pipeline = "ci"

[pipeline.ci]
image = "busybox"
[pipeline.ci.lint]
run = "true"
"""

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "github" / "webhooks"
HANDLED_EVENTS = (
    "check_run", "check_suite", "create", "delete", "installation", "issue_comment",
    "ping", "pull_request", "pull_request_review_comment", "push",
)  # fmt: skip

# (answer, effect): the pipeline event launched, "none", or "cancel" for a closed PR.
EXPECTED: dict[str, tuple[int, str]] = {
    "check_run/rerequested": (202, "none"),  # not one of our check runs: nothing reset
    "check_run/requested_action": (200, "none"),  # identifier lgtm|26764 is not ours
    "check_suite/rerequested": (202, "none"),
    "create": (202, "create-tag"),
    "delete": (202, "delete-tag"),
    "pull_request/opened": (202, "pr"),
    "pull_request/reopened": (202, "pr"),
    "pull_request/synchronize": (202, "pr"),
    "pull_request/ready_for_review": (202, "pr"),
    "pull_request/closed": (202, "none"),
    "push": (202, "delete-tag"),  # the examples delete refs/tags/simple-tag
    "push/with-new-branch": (202, "push"),
}


def expected(name: str) -> tuple[int, str]:
    """What a payload file should get; everything not listed is acknowledged and ignored."""
    event, file = name.split("/")
    action = file.split(".")[0] if file != "payload.json" else ""
    variant = file.removesuffix(".payload.json")
    for key in (f"{event}/{variant}", f"{event}/{action}", event):
        if key in EXPECTED:
            return EXPECTED[key]
    return 200, "none"


def payload_names() -> list[str]:
    return sorted(
        f"{path.parent.name}/{path.name}"
        for event in HANDLED_EVENTS
        for path in (FIXTURES / event).glob("*.payload.json")
    )


def hello_world_remote(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A bare repository shaped like the examples' Hello-World: master, a tag, PR #2."""
    url, first = make_bare_remote(tmp_path, {"conducto.cfg": CONFIG, "README.md": "hello\n"})
    work = work_tree(url)
    git(work, "push", "--quiet", "origin", "main:master")
    git(work, "tag", "simple-tag")
    git(work, "push", "--quiet", "origin", "simple-tag")
    pr = push_files(url, {"feature.txt": "change\n"}, "a change", branch="changes")
    git(work, "push", "--quiet", "origin", "changes:refs/pull/2/head")
    return url, {"main": first, "pr": pr}


@pytest.mark.parametrize("name", payload_names())
def test_official_payload(
    name: str, make_bot: MakeBot, fake_github: FakeGitHub, fixtures_dir: Path, tmp_path: Path
) -> None:
    event = name.split("/")[0]
    original = official(fixtures_dir, name)
    validate_payload(fixtures_dir, event, original)
    url, shas = hello_world_remote(tmp_path)
    payload = retarget(original, url, shas["pr"] if event == "pull_request" else shas["main"])
    validate_payload(fixtures_dir, event, payload)  # still a payload GitHub could send
    bot = make_bot(fake_github)
    answer, effect = expected(name)

    response = bot.deliver(event, payload, delivery=f"d-{name}")
    assert response.status_code == answer, response.get_json()
    bot.work()

    pipelines = bot.store.pipelines()
    if answer == 202:
        delivery = bot.store.delivery(f"d-{name}")
        assert delivery.status == "handled", delivery.outcome
    if effect == "none":
        assert pipelines == []
        return
    assert [p.event for p in pipelines] == [effect]
    pipeline = pipelines[0]
    assert pipeline.sha != "0" * 40 and len(pipeline.sha) == 40
    assert pipeline.sha == (shas["pr"] if effect == "pr" else shas["main"])
    if effect == "pr":
        assert (pipeline.pr, pipeline.branch, pipeline.base_branch) == ("2", "changes", "master")
        assert pipeline.trusted  # the example's head is the same repository
    if effect.endswith("-tag"):
        assert pipeline.tag == "simple-tag"


def test_a_tag_created_arrives_as_push_and_create_but_builds_once(
    make_bot: MakeBot, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, shas = hello_world_remote(tmp_path)
    push = retarget(official(fixtures_dir, "push/with-new-branch.payload.json"), url, shas["main"])
    push["ref"] = "refs/tags/simple-tag"
    create = retarget(official(fixtures_dir, "create/payload.json"), url)
    bot = make_bot(mode="none")
    assert bot.deliver("push", push).status_code == 202
    assert bot.deliver("create", create).status_code == 202
    bot.work()
    assert [(p.event, p.tag) for p in bot.store.pipelines()] == [("create-tag", "simple-tag")]


def test_a_draft_pull_request_waits_and_ready_for_review_builds(
    make_bot: MakeBot, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, shas = hello_world_remote(tmp_path)
    draft = retarget(official(fixtures_dir, "pull_request/opened.payload.json"), url, shas["pr"])
    draft["pull_request"]["draft"] = True
    bot = make_bot(mode="none")
    response = bot.deliver("pull_request", draft)
    assert response.status_code == 200 and "draft" in response.get_json()["ignored"]
    ready = retarget(
        official(fixtures_dir, "pull_request/ready_for_review.payload.json"), url, shas["pr"]
    )
    assert bot.deliver("pull_request", ready).status_code == 202
    bot.work()
    assert [p.event for p in bot.store.pipelines()] == ["pr"]


def test_closing_a_pull_request_cancels_its_active_pipeline(
    make_bot: MakeBot, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, shas = hello_world_remote(tmp_path)
    bot = make_bot(mode="none")
    opened = retarget(official(fixtures_dir, "pull_request/opened.payload.json"), url, shas["pr"])
    bot.deliver("pull_request", opened)
    bot.work()
    closed = retarget(official(fixtures_dir, "pull_request/closed.payload.json"), url, shas["pr"])
    assert bot.deliver("pull_request", closed, delivery="closing").status_code == 202
    bot.work()
    (pipeline,) = bot.store.pipelines()
    assert pipeline.state.value == "cancelled" and pipeline.cancel_requested
    assert bot.store.delivery("closing").outcome == "cancelled 1 pipeline(s) of closed #2"
