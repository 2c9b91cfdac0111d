"""The mirror cache and checkouts, against real repositories on disk."""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ci_bot.git import GitError, Mirrors, local_head, local_snapshot, mask, unpack_archive
from tests.gitrepos import commit_files, git, make_bare_remote, make_repo, push_files, work_tree

REPO = "octo/widgets"
SECRET = "ghs_s3cr3tT0ken1234"


@pytest.fixture
def mirrors(tmp_path: Path) -> Mirrors:
    return Mirrors(tmp_path / "mirrors")


@pytest.fixture
def remote(tmp_path: Path) -> tuple[str, str]:
    return make_bare_remote(tmp_path, {"conducto.cfg": "v1\n", "src/app.py": "print(1)\n"})


# --- fetch ---------------------------------------------------------------------------


def test_first_fetch_makes_a_bare_mirror(mirrors: Mirrors, remote: tuple[str, str]) -> None:
    url, sha = remote
    path = mirrors.fetch(REPO, url)
    assert path == mirrors.mirror_path(REPO)
    assert git(path, "rev-parse", "--is-bare-repository") == "true"
    assert mirrors.resolve(REPO, "main") == sha
    assert mirrors.resolve(REPO, "HEAD") == sha  # the remote's default branch, as a clone has
    assert not list(mirrors.root.glob("*.partial"))


def test_second_fetch_is_incremental(mirrors: Mirrors, remote: tuple[str, str]) -> None:
    url, first = remote
    path = mirrors.fetch(REPO, url)
    marker = path / "ci-bot-marker"
    marker.write_text("still here")
    inode = path.stat().st_ino
    second = push_files(url, {"conducto.cfg": "v2\n"}, "second")
    assert mirrors.fetch(REPO, url) == path
    assert marker.read_text() == "still here"
    assert path.stat().st_ino == inode
    assert mirrors.resolve(REPO, "main") == second
    assert mirrors.resolve(REPO, first) == first


def test_fetch_prunes_deleted_branches(mirrors: Mirrors, remote: tuple[str, str]) -> None:
    url, _ = remote
    push_files(url, {"f.txt": "x"}, "feature", branch="feature")
    mirrors.fetch(REPO, url)
    assert mirrors.resolve(REPO, "feature")
    git(work_tree(url), "push", "--quiet", "origin", ":feature")
    mirrors.fetch(REPO, url)
    with pytest.raises(GitError, match="feature is not a commit"):
        mirrors.resolve(REPO, "feature")


def test_pull_refs_come_with_extra_refspecs(mirrors: Mirrors, remote: tuple[str, str]) -> None:
    url, _ = remote
    bare = Path(url.removeprefix("file://"))
    head = push_files(url, {"conducto.cfg": "from a fork\n"}, "fork", branch="fork")
    git(bare, "update-ref", "refs/pull/7/head", head)
    git(bare, "update-ref", "-d", "refs/heads/fork")
    mirrors.fetch(REPO, url)
    with pytest.raises(GitError, match="refs/pull/7/head"):
        mirrors.resolve(REPO, "refs/pull/7/head")

    mirrors.fetch(REPO, url, refs=["refs/pull/7/head:refs/pull/7/head"])
    assert mirrors.resolve(REPO, "refs/pull/7/head") == head
    assert mirrors.read_file(REPO, head, "conducto.cfg") == "from a fork\n"

    # A force-pushed pull request (not a fast-forward) still updates the mirror.
    work = work_tree(url)
    git(work, "checkout", "--quiet", "main")
    rewritten = push_files(url, {"conducto.cfg": "rewritten\n"}, "rewrite", branch="other")
    git(bare, "update-ref", "refs/pull/7/head", rewritten)
    mirrors.fetch(REPO, url, refs=["refs/pull/7/head"])
    assert mirrors.resolve(REPO, "refs/pull/7/head") == rewritten


def test_bad_url_hides_the_token(
    mirrors: Mirrors, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger="ci_bot.git")
    url = f"https://x-access-token:{SECRET}@127.0.0.1:9/octo/widgets.git"
    with pytest.raises(GitError) as raised:
        mirrors.fetch(REPO, url)
    message = str(raised.value)
    assert SECRET not in message
    assert "https://x-access-token:***@127.0.0.1:9/octo/widgets.git" in message
    assert "Check the URL" in message
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert SECRET not in caplog.text
    assert "git fetch" in caplog.text
    assert not mirrors.mirror_path(REPO).exists()
    assert not list(mirrors.root.glob("*.partial"))


def test_missing_repository_is_a_git_error(mirrors: Mirrors, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="could not fetch octo/widgets"):
        mirrors.fetch(REPO, (tmp_path / "absent.git").as_uri())


def test_token_is_never_written_to_the_mirror(
    mirrors: Mirrors, remote: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sha = remote
    https = f"https://x-access-token:{SECRET}@github.example/octo/widgets.git"
    # Let git rewrite the https URL to the local remote, so the fetch really succeeds.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{url}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", https)
    path = mirrors.fetch(REPO, https)
    mirrors.fetch(REPO, https)
    assert mirrors.resolve(REPO, "main") == sha
    for file in path.rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file


def test_mask() -> None:
    assert mask("https://user:pw@host/x and http://tok@h/y") == (
        "https://user:***@host/x and http://***@h/y"
    )
    url = f"https://{SECRET}@host/r.git"
    assert mask(f"auth failed for {SECRET}", url) == "auth failed for ***"


@pytest.mark.parametrize(
    "name", ["../x", "../../etc", "/etc/passwd", "..", ".", "", "a/../../b", "~root", "a\0b", "é/ü"]
)
def test_mirror_path_stays_inside_root(mirrors: Mirrors, name: str) -> None:
    path = mirrors.mirror_path(name)
    assert path.parent == mirrors.root
    assert path.name not in ("", ".", "..") and not path.name.startswith(".")
    assert "/" not in path.name and "\0" not in path.name


def test_mirror_paths_of_different_repos_differ(mirrors: Mirrors) -> None:
    names = ["a/b_c", "a_b/c", "a/b-c", "A/B-C", "a-b/c"]
    assert len({mirrors.mirror_path(name) for name in names}) == len(names)
    assert mirrors.mirror_path("octo/widgets").name.startswith("octo-widgets-")


def test_two_threads_fetching_at_once_both_succeed(
    mirrors: Mirrors, remote: tuple[str, str], tmp_path: Path
) -> None:
    url, sha = remote
    other = Mirrors(mirrors.root)  # a second owner of the same root, as another worker would be
    results: list[Path] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def fetch(owner: Mirrors) -> None:
        barrier.wait()
        try:
            results.append(owner.fetch(REPO, url))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=fetch, args=(m,)) for m in (mirrors, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [mirrors.mirror_path(REPO)] * 2
    assert mirrors.resolve(REPO, "main") == sha
    assert git(results[0], "fsck", "--no-progress") == ""


# --- reading at a commit -------------------------------------------------------------


def test_config_is_read_at_the_commit(mirrors: Mirrors, remote: tuple[str, str]) -> None:
    url, old = remote
    new = push_files(url, {"conducto.cfg": "v2\n"}, "second")
    mirrors.fetch(REPO, url)
    assert mirrors.read_file(REPO, old, "conducto.cfg") == "v1\n"
    assert mirrors.read_config(REPO, old) == ("conducto.cfg", "v1\n")
    assert mirrors.read_config(REPO, new) == ("conducto.cfg", "v2\n")
    assert mirrors.read_file(REPO, old, "src/app.py") == "print(1)\n"
    assert mirrors.read_file(REPO, old, "absent.txt") is None
    assert mirrors.read_file(REPO, old, "src") is None  # a directory is not a file


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"conducto.cfg": "plain", ".conducto.cfg": "dot"}, ("conducto.cfg", "plain")),
        ({".conducto.cfg": "dot"}, (".conducto.cfg", "dot")),
        ({"README": "no config"}, None),
    ],
)
def test_config_file_precedence(
    mirrors: Mirrors, tmp_path: Path, files: dict[str, str], expected: tuple[str, str] | None
) -> None:
    url, sha = make_bare_remote(tmp_path, files)
    mirrors.fetch(REPO, url)
    assert mirrors.read_config(REPO, sha) == expected


def test_snapshots_read_many_commits_as_snapshot_reads_each(
    mirrors: Mirrors, remote: tuple[str, str]
) -> None:
    url, old = remote
    new = push_files(url, {"conducto.cfg": "v2\n"}, "second")
    mirrors.fetch(REPO, url)
    missing = "0" * 39 + "1"
    lookups = mirrors.snapshots(REPO, [old, new, missing, "--upload-pack=x"], [old, missing])
    assert list(lookups.snapshots) == [old, new]  # what fails, `snapshot` says why
    for sha in (old, new):
        assert lookups.snapshots[sha] == mirrors.snapshot(REPO, sha)
    assert lookups.snapshots[new].config == ("conducto.cfg", "v2\n")
    assert lookups.commits == {old}


def test_commit(mirrors: Mirrors, remote: tuple[str, str]) -> None:
    url, _ = remote
    sha = push_files(url, {"x": "y"}, "Fix the widget\n\nIt was broken.")
    mirrors.fetch(REPO, url)
    commit = mirrors.commit(REPO, "main")
    assert commit.sha == sha
    assert commit.title == "Fix the widget"
    assert commit.message.startswith("Fix the widget\n\nIt was broken.")
    assert commit.author == "Test Author"


def test_unknown_sha_and_unfetched_repo(mirrors: Mirrors, remote: tuple[str, str]) -> None:
    with pytest.raises(GitError, match="no mirror of octo/widgets yet"):
        mirrors.resolve(REPO, "main")
    mirrors.fetch(REPO, remote[0])
    with pytest.raises(GitError, match="is not a commit"):
        mirrors.read_file(REPO, "0" * 40, "conducto.cfg")
    with pytest.raises(GitError, match="not a git ref"):
        mirrors.resolve(REPO, "--output=/tmp/x")


def test_paths_at(mirrors: Mirrors, tmp_path: Path) -> None:
    url, sha = make_bare_remote(tmp_path, {"a.txt": "a", "src/b/c.py": "c", "src/d.py": "d"})
    work = work_tree(url)
    os.symlink("a.txt", work / "link")
    new = push_files(url, {}, "add a link")
    mirrors.fetch(REPO, url)
    assert mirrors.paths_at(REPO, sha) == {"a.txt", "src/b/c.py", "src/d.py"}
    assert mirrors.paths_at(REPO, new) == {"a.txt", "src/b/c.py", "src/d.py", "link"}


# --- materialize ---------------------------------------------------------------------


def test_materialize_writes_the_tree(mirrors: Mirrors, tmp_path: Path) -> None:
    files = {
        "run.sh": "#!/bin/sh\necho hi\n",
        "data/plain.txt": "plain\n",
        "tests/test_x.py": "x\n",
        ".gitattributes": "tests/ export-ignore\nplain.txt export-subst\n",
    }
    url, _ = make_bare_remote(tmp_path, files)
    work = work_tree(url)
    (work / "run.sh").chmod(0o755)
    os.symlink("data/plain.txt", work / "link")
    sha = push_files(url, {"data/plain.txt": "$Format:%H$\n"}, "exec bit and link")
    mirrors.fetch(REPO, url)

    dest = tmp_path / "checkout" / "workspace"
    mirrors.materialize(REPO, sha, dest)
    assert not (dest / ".git").exists()
    assert os.access(dest / "run.sh", os.X_OK)
    assert not os.access(dest / "data/plain.txt", os.X_OK)
    assert (dest / "link").is_symlink() and os.readlink(dest / "link") == "data/plain.txt"
    assert (dest / "tests/test_x.py").read_text() == "x\n"  # export-ignore is not honoured
    assert (dest / "data/plain.txt").read_text() == "$Format:%H$\n"
    written = {str(p.relative_to(dest)) for p in dest.rglob("*") if not p.is_dir()}
    assert written == mirrors.paths_at(REPO, sha)
    modes = {name: (dest / name).stat().st_mode & 0o7777 for name in ("run.sh", "data/plain.txt")}
    assert modes == {"run.sh": 0o755, "data/plain.txt": 0o644}
    assert (dest / "data").stat().st_mode & 0o7777 == 0o755


def test_an_archive_that_cannot_be_written_says_what_git_said(
    remote: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = remote
    dest = tmp_path / "dest"
    dest.mkdir()

    with pytest.raises(GitError) as raised:
        unpack_archive(Path(url.removeprefix("file:")), "f" * 40, dest, what="the remote at ffff")

    assert str(raised.value).startswith(f"could not write the remote at ffff into {dest}: fatal: ")
    assert str(raised.value).endswith("Check free disk space and permissions")
    assert list(dest.iterdir()) == []


def test_materialize_refuses_a_non_empty_dest(
    mirrors: Mirrors, remote: tuple[str, str], tmp_path: Path
) -> None:
    url, sha = remote
    mirrors.fetch(REPO, url)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "leftover").write_text("x")
    with pytest.raises(GitError, match="not empty"):
        mirrors.materialize(REPO, sha, dest)


# --- local directories ---------------------------------------------------------------


def test_local_snapshot_copies_the_work_tree_as_it_is(
    repo_factory: Callable[..., Path], tmp_path: Path
) -> None:
    source = repo_factory({"conducto.cfg": "committed\n", "tool.sh": "#!/bin/sh\n"})
    (source / "conducto.cfg").write_text("edited, not committed\n")
    (source / "untracked.txt").write_text("new\n")
    (source / "tool.sh").chmod(0o755)
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    os.symlink(outside, source / "escape")
    os.symlink("tool.sh", source / "inside")
    os.mkfifo(source / "pipe")

    dest = tmp_path / "snapshot"
    local_snapshot(source, dest)
    assert (dest / "conducto.cfg").read_text() == "edited, not committed\n"
    assert (dest / "untracked.txt").read_text() == "new\n"
    assert os.access(dest / "tool.sh", os.X_OK)
    assert (dest / "escape").is_symlink() and os.readlink(dest / "escape") == str(outside)
    assert os.readlink(dest / "inside") == "tool.sh"
    assert not (dest / ".git").exists()
    assert not (dest / "pipe").exists()


def test_local_snapshot_into_a_dir_inside_the_source(repo_factory: Callable[..., Path]) -> None:
    source = repo_factory({"a.txt": "a"})
    dest = source / ".ci-bot" / "snapshot"
    local_snapshot(source, dest)
    assert (dest / "a.txt").read_text() == "a"
    assert not (dest / ".ci-bot" / "snapshot").exists()


def test_local_head(repo_factory: Callable[..., Path], tmp_path: Path) -> None:
    source = repo_factory({"a.txt": "a"}, message="First\n\nbody")
    sha = commit_files(source, {"b.txt": "b"}, "Second commit")
    head = local_head(source)
    assert head is not None
    assert (head.sha, head.title, head.author) == (sha, "Second commit", "Test Author")

    plain = tmp_path / "plain"
    plain.mkdir()
    assert local_head(plain) is None
    assert local_head(tmp_path / "absent") is None
    assert local_head(source / "missing-subdir") is None

    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "--quiet")
    assert local_head(empty) is None


def test_make_repo_keeps_identity_local(tmp_path: Path) -> None:
    path = tmp_path / "r"
    make_repo(path, {"bin.dat": b"\x00\x01"})
    assert git(path, "config", "--local", "user.name") == "Test Author"
    assert (path / "bin.dat").read_bytes() == b"\x00\x01"
    assert stat.S_ISREG((path / "bin.dat").stat().st_mode)
