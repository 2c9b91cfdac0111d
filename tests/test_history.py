"""A commit's history read for a pipeline: bases, changed files, release commits and the
``.git`` a workspace gets — against real repositories and mirrors on disk."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from ci_bot.git import Mirrors
from ci_bot.github.bases import changes_since_base
from ci_bot.history import ZERO_SHA, History, work_tree_changes
from ci_bot.tree.select import Event
from tests.gitrepos import commit_files, git, make_bare_remote, make_repo, push_files, work_tree

REPO = "acme/mono"


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[str, History]:
    url, _ = make_bare_remote(tmp_path, {"conducto.cfg": "v1\n", "services/a/app.py": "a\n"})
    mirrors = Mirrors(tmp_path / "mirrors")
    mirrors.fetch(REPO, url)
    return url, mirrors.history(REPO)


def refetch(tmp_path: Path, url: str) -> History:
    mirrors = Mirrors(tmp_path / "mirrors")
    mirrors.fetch(REPO, url)
    return mirrors.history(REPO)


def test_a_push_is_measured_from_its_before(tmp_path: Path, mirror: tuple[str, History]) -> None:
    url, _ = mirror
    before = git(work_tree(url), "rev-parse", "HEAD")
    after = push_files(url, {"services/b/app.py": "b\n", "README.md": "hi\n"}, "b")
    history = refetch(tmp_path, url)
    changes = changes_since_base(history, Event("push", branch="main", sha=after), before, "main")
    assert changes.base_sha == before
    assert changes.files == ("README.md", "services/b/app.py")


def test_a_new_branch_is_measured_from_the_default_branch(
    tmp_path: Path, mirror: tuple[str, History]
) -> None:
    url, _ = mirror
    fork_point = git(work_tree(url), "rev-parse", "HEAD")
    sha = push_files(url, {"services/a/app.py": "a2\n"}, "a2", branch="feature")
    history = refetch(tmp_path, url)
    event = Event("push", branch="feature", sha=sha)
    changes = changes_since_base(history, event, ZERO_SHA, "main")
    assert (changes.base_sha, changes.files) == (fork_point, ("services/a/app.py",))


def test_the_default_branch_without_a_before_has_no_base(mirror: tuple[str, History]) -> None:
    url, history = mirror
    sha = git(work_tree(url), "rev-parse", "HEAD")
    changes = changes_since_base(history, Event("push", branch="main", sha=sha), "", "main")
    assert changes.files is None and changes.all_changed
    assert changes.no_base == "main is new and is the default branch"


def test_a_pull_request_is_measured_from_its_merge_base(
    tmp_path: Path, mirror: tuple[str, History]
) -> None:
    url, _ = mirror
    fork_point = git(work_tree(url), "rev-parse", "HEAD")
    head = push_files(url, {"services/a/app.py": "a2\n"}, "change a", branch="feature")
    work = work_tree(url)
    git(work, "checkout", "--quiet", "main")
    commit_files(work, {"services/b/app.py": "b\n"}, "meanwhile on main")
    git(work, "push", "--quiet", "origin", "main")
    history = refetch(tmp_path, url)
    event = Event("pr", branch="feature", base_branch="main", sha=head, pr="1")
    changes = changes_since_base(history, event, "", "main")
    assert changes.base_sha == fork_point
    assert changes.files == ("services/a/app.py",)  # main's own commit is not the PR's


def test_a_tag_is_measured_from_the_previous_tag(
    tmp_path: Path, mirror: tuple[str, History]
) -> None:
    url, _ = mirror
    work = work_tree(url)
    git(work, "tag", "v1.0")
    push_files(url, {"services/a/app.py": "a2\n"}, "Fix a")
    sha = push_files(url, {"services/b/app.py": "b\n"}, "Add b")
    git(work, "tag", "v1.1")
    git(work, "push", "--quiet", "origin", "--tags")
    history = refetch(tmp_path, url)
    assert history.previous_tag(sha) == "v1.0"
    changes = changes_since_base(history, Event("create-tag", tag="v1.1", sha=sha), "", "main")
    assert changes.files == ("services/a/app.py", "services/b/app.py")
    assert [c.title for c in history.commits("v1.0", sha)] == ["Add b", "Fix a"]


def test_a_rename_counts_for_both_paths(tmp_path: Path, mirror: tuple[str, History]) -> None:
    url, _ = mirror
    work = work_tree(url)
    before = git(work, "rev-parse", "HEAD")
    git(work, "mv", "services/a/app.py", "services/b.py")
    git(work, "commit", "--quiet", "-m", "move")
    git(work, "push", "--quiet", "origin", "main")
    after = git(work, "rev-parse", "HEAD")
    changes = refetch(tmp_path, url).changes(before, after)
    assert changes.files == ("services/a/app.py", "services/b.py")


def test_changes_between_many_pairs_are_each_pairs_changes(
    tmp_path: Path, mirror: tuple[str, History]
) -> None:
    url, _ = mirror
    shas = [git(work_tree(url), "rev-parse", "HEAD")]
    shas.append(push_files(url, {"services/a/app.py": "b\n", "x y.txt": "z"}, "two"))
    shas.append(push_files(url, {"services/b/new.py": "c\n"}, "three"))
    history = refetch(tmp_path, url)
    pairs = [(shas[0], shas[1]), (shas[1], shas[2]), (shas[2], shas[2]), (shas[0], shas[2])]
    assert history.changes_between(pairs) == {pair: history.changes(*pair) for pair in pairs}
    assert history.changes_between(pairs)[(shas[2], shas[2])].files == ()


def test_a_file_named_like_a_commit_does_not_confuse_changes_between(
    tmp_path: Path, mirror: tuple[str, History]
) -> None:
    url, _ = mirror
    first = git(work_tree(url), "rev-parse", "HEAD")
    second = push_files(url, {"a.txt": "a\n"}, "two")
    third = push_files(url, {second: "named like the second commit\n"}, "three")
    history = refetch(tmp_path, url)
    pairs = [(second, third), (first, second)]
    assert history.changes_between(pairs) == {pair: history.changes(*pair) for pair in pairs}
    assert history.changes_between(pairs)[(second, third)].files == (second,)


@pytest.mark.parametrize("depth", [1, 2, 0])
def test_a_git_dir_holds_the_commit_at_its_depth(
    tmp_path: Path, mirror: tuple[str, History], depth: int
) -> None:
    url, _ = mirror
    for number in range(3):
        push_files(url, {"n.txt": f"{number}\n"}, f"commit {number}")
    sha = git(work_tree(url), "rev-parse", "HEAD")
    history = refetch(tmp_path, url)
    checkout = tmp_path / "checkout"
    history.write_git_dir(sha, tmp_path / "dot-git", depth, branch="main")
    make_checkout(checkout, tmp_path / "dot-git", work_tree(url))
    log = git(checkout, "log", "--format=%s").splitlines()
    assert log == ["commit 2", "commit 1", "commit 0", "init"][: depth or None]
    assert git(checkout, "rev-parse", "HEAD") == sha
    assert git(checkout, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(checkout, "status", "--porcelain") == ""  # the index matches the files


def test_a_tag_checkout_is_detached_with_the_tag(
    tmp_path: Path, mirror: tuple[str, History]
) -> None:
    url, history = mirror
    sha = git(work_tree(url), "rev-parse", "HEAD")
    history.write_git_dir(sha, tmp_path / "dot-git", 1, tag="v2")
    checkout = tmp_path / "checkout"
    make_checkout(checkout, tmp_path / "dot-git", work_tree(url))
    assert git(checkout, "describe", "--tags") == "v2"
    assert git(checkout, "rev-parse", "--abbrev-ref", "HEAD") == "HEAD"


def test_work_tree_changes_include_what_is_not_committed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    base = make_repo(repo, {"a.txt": "a\n", "b.txt": "b\n"})
    commit_files(repo, {"c.txt": "c\n"}, "c")
    (repo / "a.txt").write_text("edited\n")
    (repo / "new.txt").write_text("new\n")
    changes = work_tree_changes(repo, base)
    assert changes.files == ("a.txt", "c.txt", "new.txt")
    assert work_tree_changes(repo, "nope").files is None
    assert History.of_work_tree(repo / "sub") is None  # not the root of a work tree


def make_checkout(checkout: Path, dot_git: Path, files_from: Path) -> None:
    """A work tree as /workspace would be: the commit's files with the written .git."""
    archive = checkout.parent / "files.tar"
    git(files_from, "archive", "--format=tar", "-o", str(archive), "HEAD")
    with tarfile.open(archive) as files:
        files.extractall(checkout, filter="tar")
    dot_git.rename(checkout / ".git")
