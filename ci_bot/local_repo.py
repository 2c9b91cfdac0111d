"""A person's own repository directory, for ``ci-bot run DIR`` and ``ci-bot rerun``.

``git.py`` keeps the bot's mirrors; this reads a directory someone works in, and
never writes to it: whether its working tree differs from HEAD (a run of it is
then recorded as ``dirty``), which commit a ref names there, and that commit's
tree written out for a pipeline, as ``git archive`` gives it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ci_bot.git import Commit, GitError, is_work_tree_top, run_git, unpack_archive

logger = logging.getLogger(__name__)


def is_dirty(repo_dir: Path) -> bool:
    """True when the working tree has changes HEAD does not (untracked files too: a
    run copies them).  A directory that is not a repository is not dirty."""
    if not is_work_tree_top(repo_dir):
        return False
    try:
        # no optional locks: a status may not refresh the person's index behind their back
        status = ("--no-optional-locks", "status", "--porcelain", "--untracked-files=normal")
        changes = run_git(repo_dir, *status, failed="", hint="")
    except GitError:
        return False
    return bool(changes.strip())


def commit_at(repo_dir: Path, ref: str) -> Commit:
    """The commit ``ref`` (a sha, branch, tag or ``HEAD~2``) names in ``repo_dir``."""
    import git  # GitPython (~90 ms): only a run of a given commit needs it

    if not ref or ref.startswith("-"):
        raise GitError(f"{ref!r} is not a git ref or commit sha")
    try:
        with git.Repo(repo_dir) as repo:
            found = repo.commit(ref)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(f"{repo_dir} is not a git repository") from None
    except (git.BadName, git.GitCommandError, ValueError):
        raise GitError(f"{ref} is not a commit in {repo_dir}; check the name") from None
    message = found.message
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return Commit(sha=found.hexsha, message=message, author=found.author.name or "")


def export_commit(repo_dir: Path, ref: str, dest: Path) -> Commit:
    """Write the tree of ``ref`` into ``dest`` (empty or absent), without .git; its commit."""
    commit = commit_at(repo_dir, ref)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise GitError(f"{dest} is not empty; give an empty or absent directory")
    logger.info("git archive %s of %s into %s", commit.sha, repo_dir, dest)
    unpack_archive(repo_dir, commit.sha, dest, what=f"{ref} of {repo_dir}")
    return commit
