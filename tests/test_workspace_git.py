"""``/workspace/.git`` promised at launch and written once, when a workspace needs it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ci_bot import workspace_git
from ci_bot.engine import launch_facts
from ci_bot.git import GitError
from ci_bot.history import History
from ci_bot.tree.select import Event
from tests.gitrepos import commit_files, git, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> tuple[History, str]:
    path = tmp_path / "repo"
    make_repo(path, {"a.txt": "one\n"}, "first")
    sha = commit_files(path, {"a.txt": "two\n"}, "second")
    history = History.of_work_tree(path)
    assert history is not None
    return history, sha


def test_launching_promises_the_git_dir_and_reads_no_history(
    tmp_path: Path, repo: tuple[History, str]
) -> None:
    history, sha = repo
    source = tmp_path / "source"
    source.mkdir()
    event = Event("push", branch="main", sha=sha)
    launch_facts.record_history(source, history, event, [1, 0])
    facts = launch_facts.facts_dir(source)
    assert not (facts / "git-1").exists() and not (facts / "git-0").exists()

    extras = dict((there, here) for here, there in launch_facts.workspace_extras(source, 1))
    assert extras[launch_facts.GIT_DIR] == facts / "git-1"  # what the workspace will hold
    assert launch_facts.workspace_extras(source, 5) == ()  # no Exec asked for that depth

    workspace_git.provide([facts / "git-1"])
    assert (facts / "git-1" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert git(facts / "git-1", "rev-list", "--count", sha) == "1"
    assert not (facts / "git-0").exists(), "only what a workspace asked for is written"


def test_the_git_dir_is_written_once_however_many_workspaces_ask(
    tmp_path: Path, repo: tuple[History, str]
) -> None:
    history, sha = repo
    dest = tmp_path / "git-0"
    workspace_git.promise(dest, history, sha, 0, branch="main", tag="")
    failures: list[BaseException] = []

    def build() -> None:
        try:
            workspace_git.provide([dest])
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert git(dest, "rev-list", "--count", sha) == "2"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".git-")] == []
    written = (dest / "HEAD").stat().st_mtime_ns
    workspace_git.provide([dest])
    assert (dest / "HEAD").stat().st_mtime_ns == written


def test_other_extras_are_left_as_they_are(tmp_path: Path) -> None:
    listed = tmp_path / "changed-files"
    listed.write_text("a.txt\n")
    workspace_git.provide([listed, tmp_path / "never-promised"])
    assert listed.read_text() == "a.txt\n"
    assert not (tmp_path / "never-promised").exists()


def test_a_promise_whose_repository_went_says_so(tmp_path: Path) -> None:
    gone = History(tmp_path / "gone.git", "acme/app")
    dest = tmp_path / "git-50"
    workspace_git.promise(dest, gone, "a" * 40, 50, branch="main", tag="")
    with pytest.raises(GitError, match=r"acme/app at aaaaaaaaaaaa: .* is gone"):
        workspace_git.provide([dest])
    assert not dest.exists()
