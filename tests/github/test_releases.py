"""``release`` on a tag: the GitHub Release is created on the fake GitHub (which checks
its answers against GitHub's release schemas) with the node's files as assets and notes
listing the commits since the previous tag; a rerun replaces the assets of the one
release; signatures and provenance go with their files; nothing else publishes."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from ci_bot.engine.launch import launch
from ci_bot.engine.trust import REFUSED
from ci_bot.executors.fake import FakeExecutor
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from tests.fakes.github import FakeGitHub
from tests.github.conftest import Bot, MakeBot
from tests.github.support import official, retarget
from tests.gitrepos import git, make_bare_remote, push_files, work_tree, write_files

REPO = "Codertocat/Hello-World"
CONFIG = """\
[[push]]
pipeline = "release"

[create-tag]
pipeline = "release"

[pipeline.release]
image = "busybox"
[pipeline.release.publish]
run = "make dist"
{extra}
"""
DIST = {
    "dist/app-1.1.tar.gz": "tarball\n",
    "dist/app-1.1.zip": "zip\n",
    "dist/SHA256SUMS": "sums\n",
}


@pytest.fixture
def executor() -> FakeExecutor:
    return FakeExecutor()


def tagged_remote(tmp_path: Path, extra: str = 'release = ["dist/*"]') -> tuple[str, str]:
    """A repository tagged v1.0 at its first commit and v1.1 two commits later."""
    url, _ = make_bare_remote(tmp_path, {"conducto.cfg": CONFIG.format(extra=extra)})
    work = work_tree(url)
    git(work, "tag", "v1.0")
    push_files(url, {"parser.c": "fixed\n"}, "Fix the parser")
    sha = push_files(url, {"feature.c": "new\n"}, "Add the feature")
    git(work, "tag", "v1.1")
    git(work, "push", "--quiet", "origin", "--tags")
    return url, sha


def tag_pushed(bot: Bot, fixtures_dir: Path, url: str, sha: str, tag: str = "v1.1") -> int:
    payload = retarget(official(fixtures_dir, "push/with-new-branch.payload.json"), url, sha)
    payload |= {"ref": f"refs/tags/{tag}", "before": "0" * 40, "created": True}
    return deliver(bot, "push", payload)


def deliver(bot: Bot, event: str, payload: dict[str, Any]) -> int:
    delivery = str(uuid.uuid4())
    assert bot.deliver(event, payload, delivery=delivery).status_code == 202
    bot.work()
    assert "launched" in bot.store.delivery(delivery).outcome, bot.store.delivery(delivery).outcome
    pipeline_id = max(p.id for p in bot.store.pipelines())
    bot.services.engine.run_until_settled(pipeline_id)
    return pipeline_id


def log_of(bot: Bot, pipeline_id: int, path: str = "/publish") -> str:
    return "".join(Path(e.log_path).read_text() for e in bot.store.executions(pipeline_id, path))


def test_a_tag_publishes_its_release_with_the_files_and_the_commits_since_the_last_tag(
    make_bot: MakeBot, fake_github: FakeGitHub, executor: FakeExecutor, fixtures_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    url, sha = tagged_remote(tmp_path)
    bot = make_bot(fake_github, executor=executor)
    executor.expect("/publish", files=DIST)
    pipeline_id = tag_pushed(bot, fixtures_dir, url, sha)
    assert bot.store.pipeline(pipeline_id).state is State.DONE, log_of(bot, pipeline_id)
    release = fake_github.releases.of(REPO, "v1.1")
    assert sorted(asset.name for asset in release.assets) == [
        "SHA256SUMS",
        "app-1.1.tar.gz",
        "app-1.1.zip",
    ]
    assert {a.name: a.data for a in release.assets}["app-1.1.zip"] == b"zip\n"
    notes = release.body
    assert notes.startswith("## Changes in v1.1 since v1.0\n")
    assert "- Add the feature (" in notes and "- Fix the parser (" in notes
    assert "init" not in notes  # before v1.0
    assert f"pipeline {pipeline_id}, /publish, {sha[:12]}" in notes
    assert "released v1.1: SHA256SUMS, app-1.1.tar.gz, app-1.1.zip" in log_of(bot, pipeline_id)
    fake_github.assert_no_problems()  # every request and answer as GitHub's schemas have them


def test_a_rerun_replaces_the_assets_of_the_one_release(
    make_bot: MakeBot, fake_github: FakeGitHub, executor: FakeExecutor, fixtures_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    url, sha = tagged_remote(tmp_path)
    bot = make_bot(fake_github, executor=executor)
    executor.expect("/publish", files=DIST)
    pipeline_id = tag_pushed(bot, fixtures_dir, url, sha)
    executor.expect("/publish", files={**DIST, "dist/app-1.1.zip": "zip, rebuilt\n"})
    bot.store.reset(pipeline_id, "/publish", actor="test")
    bot.services.engine.run_until_settled(pipeline_id)
    assert bot.store.pipeline(pipeline_id).state is State.DONE, log_of(bot, pipeline_id)
    assert len(fake_github.releases.releases) == 1  # created once
    release = fake_github.releases.of(REPO, "v1.1")
    assert {a.name: a.data for a in release.assets}["app-1.1.zip"] == b"zip, rebuilt\n"
    assert sorted(fake_github.releases.deleted_assets) == sorted(a.name for a in release.assets)
    assert len(fake_github.calls_to("POST", r"/releases$")) == 1


def test_signatures_and_provenance_go_with_their_file(
    make_bot: MakeBot, fake_github: FakeGitHub, executor: FakeExecutor, fixtures_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    url, sha = tagged_remote(tmp_path, 'sign = ["dist/*.zip"]\nrelease = ["dist/*.zip"]')
    bot = make_bot(fake_github, executor=executor, signing_key=key)
    executor.expect("/publish", files=DIST)
    pipeline_id = tag_pushed(bot, fixtures_dir, url, sha)
    assert bot.store.pipeline(pipeline_id).state is State.DONE, log_of(bot, pipeline_id)
    release = fake_github.releases.of(REPO, "v1.1")
    assert sorted(asset.name for asset in release.assets) == [
        "app-1.1.zip",
        "app-1.1.zip.provenance.json",
        "app-1.1.zip.provenance.json.sig",
        "app-1.1.zip.sig",
    ]
    assert "ssh-keygen -Y verify" in release.body


def test_a_push_does_not_publish_and_says_so(
    make_bot: MakeBot, fake_github: FakeGitHub, executor: FakeExecutor, fixtures_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    url, sha = tagged_remote(tmp_path)
    bot = make_bot(fake_github, executor=executor)
    executor.expect("/publish", files=DIST)
    payload = retarget(official(fixtures_dir, "push/with-new-branch.payload.json"), url, sha)
    payload |= {"ref": "refs/heads/main", "created": False}
    pipeline_id = deliver(bot, "push", payload)
    assert bot.store.pipeline(pipeline_id).state is State.DONE
    assert "release: not published: only a create-tag pipeline does (this is push)" in log_of(
        bot, pipeline_id
    )
    assert fake_github.releases.releases == {}


def test_a_glob_matching_nothing_fails_the_node_saying_so(
    make_bot: MakeBot, fake_github: FakeGitHub, executor: FakeExecutor, fixtures_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    url, sha = tagged_remote(tmp_path)
    bot = make_bot(fake_github, executor=executor)
    executor.expect("/publish", files={"elsewhere/app.zip": "zip\n"})
    pipeline_id = tag_pushed(bot, fixtures_dir, url, sha)
    [execution] = bot.store.executions(pipeline_id, "/publish")
    assert execution.state is State.ERROR
    assert execution.message.startswith("release: no file in $CI_DATA matches 'dist/*'")
    assert fake_github.releases.releases == {}


def test_without_a_github_app_or_token_the_node_fails_saying_what_to_set(
    make_bot: MakeBot, executor: FakeExecutor, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = tagged_remote(tmp_path)
    bot = make_bot(mode="none", executor=executor)
    executor.expect("/publish", files=DIST)
    pipeline_id = tag_pushed(bot, fixtures_dir, url, sha)
    [execution] = bot.store.executions(pipeline_id, "/publish")
    assert execution.state is State.ERROR
    assert "CI_BOT_GITHUB_TOKEN" in execution.message


def test_github_refusing_fails_the_node(
    make_bot: MakeBot, fake_github: FakeGitHub, executor: FakeExecutor, fixtures_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    url, sha = tagged_remote(tmp_path)
    bot = make_bot(fake_github, executor=executor)
    fake_github.fail("POST", r"/releases$", 403)
    executor.expect("/publish", files=DIST)
    pipeline_id = tag_pushed(bot, fixtures_dir, url, sha)
    [execution] = bot.store.executions(pipeline_id, "/publish")
    assert execution.state is State.ERROR
    assert execution.message.startswith("release: GitHub answered 403 while publishing v1.1")


def test_the_node_may_write_the_notes_itself(
    make_bot: MakeBot, fake_github: FakeGitHub, executor: FakeExecutor, fixtures_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    url, sha = tagged_remote(tmp_path, 'release = { files = ["dist/*.zip"], notes = "NOTES.md" }')
    bot = make_bot(fake_github, executor=executor)
    executor.expect("/publish", files={**DIST, "NOTES.md": "# v1.1\n\nHand-written.\n"})
    pipeline_id = tag_pushed(bot, fixtures_dir, url, sha)
    assert bot.store.pipeline(pipeline_id).state is State.DONE, log_of(bot, pipeline_id)
    release = fake_github.releases.of(REPO, "v1.1")
    assert release.body == "# v1.1\n\nHand-written.\n"
    assert [asset.name for asset in release.assets] == ["app-1.1.zip"]


def test_a_forks_pipeline_never_publishes(
    make_bot: MakeBot, fake_github: FakeGitHub, executor: FakeExecutor, tmp_path: Path
) -> None:
    bot = make_bot(fake_github, executor=executor)
    source = tmp_path / "source"
    write_files(source, {"conducto.cfg": CONFIG.format(extra='release = ["dist/*"]')})
    event = Event("create-tag", tag="v1.1", repo=REPO, sha="1" * 40)
    settings = bot.services.settings
    pipeline_id = launch(bot.store, settings, executor, source, event, None, trusted=False)
    executor.expect("/publish", files=DIST)
    bot.services.engine.run_until_settled(pipeline_id)
    assert bot.store.pipeline(pipeline_id).state is State.DONE
    assert REFUSED["releases"] in log_of(bot, pipeline_id)
    assert fake_github.releases.releases == {}
