"""A person's repository directory, read for ``ci-bot run`` and ``ci-bot rerun``: dirty or
not, a ref's commit, and a commit's tree written out."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_bot.git import GitError
from ci_bot.local_repo import commit_at, export_commit, is_dirty
from tests.gitrepos import commit_files, make_repo


def test_a_working_tree_is_dirty_with_edits_or_new_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"a.txt": "one\n"})
    assert not is_dirty(repo)

    (repo / "a.txt").write_text("two\n")
    assert is_dirty(repo)
    (repo / "a.txt").write_text("one\n")
    (repo / "new.txt").write_text("untracked: a run copies it too\n")
    assert is_dirty(repo)
    assert not is_dirty(tmp_path / "nowhere")


def test_a_commit_of_the_directory_is_written_out(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    first = make_repo(repo, {"version.txt": "1\n", "run.sh": "echo hi\n"}, message="one")
    second = commit_files(repo, {"version.txt": "2\n"}, "two")
    (repo / "version.txt").write_text("3, not committed\n")

    assert commit_at(repo, "HEAD").sha == second
    assert commit_at(repo, "HEAD~1").title == "one"
    commit = export_commit(repo, first[:10], tmp_path / "out")

    assert (commit.sha, commit.title) == (first, "one")
    assert (tmp_path / "out" / "version.txt").read_text() == "1\n"
    assert not (tmp_path / "out" / ".git").exists()


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=/tmp/x", ""])
def test_a_ref_that_names_no_commit_is_a_sentence(tmp_path: Path, ref: str) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"a.txt": "a\n"})

    with pytest.raises(GitError) as raised:
        commit_at(repo, ref)

    assert ref[:10] in str(raised.value)
    with pytest.raises(GitError, match="is not a git repository"):
        commit_at(tmp_path / "plain", "HEAD")
