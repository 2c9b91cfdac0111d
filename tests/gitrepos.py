"""Real git repositories for tests: a work tree with commits, a bare remote to clone.

Every command runs with the developer's global and system git config shut out,
and the identity set in the repository itself, so a test behaves the same on
any machine.  ``repo_factory`` is the fixture form of ``make_repo``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest

Files = Mapping[str, str | bytes]

_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(path: Path, *args: str) -> str:
    """Run git in ``path``; its stdout without the trailing newline."""
    done = subprocess.run(
        ["git", "-C", str(path), *args], env=_ENV, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {path}: {done.stderr}")
    return done.stdout.rstrip("\n")


def write_files(path: Path, files: Files) -> None:
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def make_repo(path: Path, files: Files, message: str = "init") -> str:
    """A non-bare repository at ``path`` (branch main) with one commit; its sha."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "config", "user.name", "Test Author")
    git(path, "config", "user.email", "author@example.com")
    git(path, "config", "commit.gpgsign", "false")
    return commit_files(path, files, message)


def commit_files(path: Path, files: Files, message: str) -> str:
    """Write ``files``, stage everything in the work tree (``add -A``), commit; the sha."""
    write_files(path, files)
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "--allow-empty", "-m", message)
    return head_sha(path)


def head_sha(path: Path) -> str:
    return git(path, "rev-parse", "HEAD")


def make_bare_remote(tmp_path: Path, files: Files, name: str = "remote") -> tuple[str, str]:
    """A bare repository to clone from, with ``files`` committed on main: (file URL, sha).

    Its work tree (``work_tree(url)``) has it as ``origin``; ``push_files`` adds commits.
    """
    bare = tmp_path.absolute() / f"{name}.git"
    work = tmp_path.absolute() / f"{name}.work"
    sha = make_repo(work, files)
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "--quiet", "origin", "main")
    return bare.as_uri(), sha


def work_tree(url: str) -> Path:
    """The work tree behind a remote made by ``make_bare_remote``."""
    bare = Path(urlsplit(url).path)
    return bare.with_name(bare.name.removesuffix(".git") + ".work")


def push_files(url: str, files: Files, message: str, branch: str = "main") -> str:
    """Commit ``files`` on ``branch`` of the remote at ``url``; the new sha."""
    work = work_tree(url)
    git(work, "checkout", "--quiet", "-B", branch)
    sha = commit_files(work, files, message)
    git(work, "push", "--quiet", "--force", "origin", f"{branch}:{branch}")
    return sha


@pytest.fixture
def repo_factory(tmp_path: Path) -> Callable[..., Path]:
    """``repo_factory(files, message="init")`` → the path of a fresh committed work tree."""
    count = 0

    def make(files: Files, message: str = "init") -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"repo{count}"
        make_repo(path, files, message)
        return path

    return make
