"""What a commit's history tells a pipeline, read with git from a mirror or a work tree.

``History`` answers the questions launching a pipeline asks: which commit a
change is measured from (a merge base, a ``before``, the previous tag), which
files changed since, which commits a release holds, and a ``.git`` of a chosen
depth for ``/workspace`` — written with ``git fetch --depth`` from the repository
itself, so it holds exactly that commit's history and nothing of the bot's.
Nothing here changes the repository it reads.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_bot.git import Commit, GitError, run_git
from ci_bot.tree.changes import ChangeSet

logger = logging.getLogger(__name__)

ZERO_SHA = "0" * 40
MAX_RELEASE_COMMITS = 200  # release notes list at most this many commits


@dataclass(frozen=True)
class History:
    """The history of one repository: ``path`` is a bare mirror or a work tree."""

    path: Path
    name: str  # for messages: "acme/app" or the directory

    @classmethod
    def of_work_tree(cls, directory: Path) -> History | None:
        """The history of the work tree whose root is ``directory``; None if it is none."""
        if not (directory / ".git").exists():
            return None
        try:
            top = run_git(directory, "rev-parse", "--show-toplevel", failed="git", hint="")
        except GitError:
            return None
        root = Path(top).resolve()
        return cls(root, str(directory)) if root == directory.resolve() else None

    def resolve(self, ref: str) -> str | None:
        """The commit ``ref`` names, or None."""
        if not ref or ref.startswith("-") or ref == ZERO_SHA:
            return None
        return self._try("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")

    def merge_base(self, sha: str, ref: str) -> str | None:
        """The best common ancestor of ``sha`` and ``ref``; None without one."""
        other = self.resolve(ref)
        return self._try("merge-base", sha, other) if other else None

    def previous_tag(self, sha: str) -> str | None:
        """The nearest tag reachable from ``sha``'s parents (not a tag on ``sha`` itself)."""
        return self._try("describe", "--tags", "--abbrev=0", f"{sha}^")

    def changes(self, base: str, sha: str) -> ChangeSet:
        """The files that differ between ``base`` and ``sha``; a rename counts twice
        (the old and the new path), so moving a file out of a directory changes it too."""
        out = self._git("diff", "--name-only", "--no-renames", "-z", base, sha)
        return ChangeSet.of(base, (path for path in out.split("\0") if path))

    def changes_between(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ChangeSet]:
        """``changes(base, sha)`` for each (base, sha) pair — both commits of this
        repository — from one ``git diff-tree --stdin``."""
        pairs = list(dict.fromkeys(pairs))
        if not pairs:
            return {}
        # `--always`: a header (the commit) for every pair, changed files or not.
        args = ("diff-tree", "-r", "--name-only", "--no-renames", "-z", "--always", "--stdin")
        lines = "".join(f"{sha} {base}\n" for base, sha in pairs)
        out = self._in(self.path, *args, stdin=lines)
        fields = [field for field in out.split("\0") if field]
        asked = {sha for _, sha in pairs}
        if sum(field in asked for field in fields) != len(pairs):
            # A file named like a commit asked for: the split would be unsure; one by one.
            return {(base, sha): self.changes(base, sha) for base, sha in pairs}
        found: dict[tuple[str, str], ChangeSet] = {}
        position = 0
        for base, sha in pairs:
            if fields[position] != sha:
                raise GitError(
                    f"git diff-tree in {self.name} answered {fields[position]} for {sha}"
                )
            end = next((i for i in range(position + 1, len(fields)) if fields[i] in asked), None)
            found[(base, sha)] = ChangeSet.of(base, fields[position + 1 : end])
            position = end if end is not None else len(fields)
        return found

    def commits(
        self, since: str | None, sha: str, limit: int = MAX_RELEASE_COMMITS
    ) -> list[Commit]:
        """The commits reachable from ``sha`` and not from ``since``, newest first."""
        span = f"{since}..{sha}" if since else sha
        out = self._git("log", f"--max-count={limit}", "--format=%H%x00%an%x00%s%x1e", span)
        found = []
        for record in out.split("\x1e"):
            fields = record.strip("\n").split("\0")
            if len(fields) == 3:
                found.append(Commit(sha=fields[0], message=fields[2], author=fields[1]))
        return found

    def write_git_dir(
        self, sha: str, dest: Path, depth: int, *, branch: str = "", tag: str = ""
    ) -> None:
        """A ``.git`` at ``dest`` holding ``sha`` with ``depth`` commits of history (0: all),
        its index matching the commit, HEAD on ``branch`` (else detached), ``tag`` set."""
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".git-") as work:
            work_tree = Path(work)
            self._in(work_tree, "init", "--quiet", "--template=", str(work_tree))
            fetch = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"]
            if depth:
                fetch.append(f"--depth={depth}")
            self._in(work_tree, *fetch, self.path.resolve().as_uri(), sha)
            self._point_head(work_tree, sha, branch, tag)
            self._in(work_tree, "read-tree", sha)  # the index: `git status` is clean
            try:  # a rename: whole or not at all, for a reader in another process
                (work_tree / ".git").rename(dest)
            except OSError:
                if not dest.is_dir():
                    raise
                return  # another process wrote the same directory first: that one stays
        logger.info("wrote %s at %s (depth %s) into %s", self.name, sha[:12], depth or "full", dest)

    def _point_head(self, work_tree: Path, sha: str, branch: str, tag: str) -> None:
        if tag:
            self._quietly(work_tree, "update-ref", f"refs/tags/{tag}", sha)
        if branch and self._quietly(work_tree, "update-ref", f"refs/heads/{branch}", sha):
            self._in(work_tree, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
        else:
            self._in(work_tree, "update-ref", "--no-deref", "HEAD", sha)

    def _quietly(self, cwd: Path, *args: str) -> bool:
        """Run git where failing is an answer (a branch name git refuses: HEAD stays detached)."""
        try:
            self._in(cwd, *args)
        except GitError:
            return False
        return True

    def _try(self, *args: str) -> str | None:
        try:
            return self._git(*args).strip() or None
        except GitError:
            return None

    def _git(self, *args: str) -> str:
        return self._in(self.path, *args)

    def _in(self, cwd: Path, *args: str, stdin: str | None = None) -> str:
        failed = f"git {args[0]} in {self.name} failed"
        return run_git(cwd, *args, failed=failed, hint="", stdin=stdin)


def work_tree_changes(directory: Path, base_ref: str) -> ChangeSet:
    """What differs between ``base_ref`` and the work tree at ``directory`` as it is:
    committed since, edited and not committed, and new files git does not ignore."""
    history = History.of_work_tree(directory)
    if history is None:
        return ChangeSet.unknown(f"{directory} is not the root of a git work tree")
    base = history.resolve(base_ref)
    if base is None:
        return ChangeSet.unknown(f"{base_ref} is not a commit in {directory}")
    failed, hint = f"git could not compare {directory} with {base_ref}", ""
    tracked = run_git(
        directory, "diff", "--name-only", "--no-renames", "-z", base, failed=failed, hint=hint
    )
    untracked = run_git(
        directory, "ls-files", "--others", "--exclude-standard", "-z", failed=failed, hint=hint
    )
    files = [path for path in f"{tracked}\0{untracked}".split("\0") if path]
    return ChangeSet.of(base, files)
