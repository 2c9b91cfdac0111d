"""Bare mirrors of the repositories we build, and the trees we build from them.

Each repository gets one bare mirror under a root directory: created on first
use, fetched incrementally (with prune) afterwards, locked per repository across
threads and processes.  Everything read for a build — ``conducto.cfg``, the file
list, the tree written out for a container — is read from the mirror *at the
commit*, never from a default branch (``history.py`` reads its history).  A clone
URL may carry a token: it is given to git per command, never written to the mirror,
and shown as ``***`` in every log line and error.  ``local_snapshot`` and
``local_head`` serve ``ci-bot run DIR``.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ci_bot.errors import CiBotError
from ci_bot.tree.config import CONFIG_FILES

if TYPE_CHECKING:
    # GitPython (~90 ms to import) is imported in the functions that use it, so that
    # commands which never open a repository (cancel, reset, show) start without it.
    import git

    from ci_bot.history import History

logger = logging.getLogger(__name__)

_ENV = {"GIT_TERMINAL_PROMPT": "0"}  # fail instead of asking for a password nobody will type
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# `git archive` honours export-ignore/export-subst from the tree, but a build needs the
# tree as committed; $GIT_DIR/info/attributes outranks the tree's .gitattributes.
_ATTRIBUTES = "* -export-ignore -export-subst\n"
_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*)(?P<pw>:[^/@\s]*)?@"
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class GitError(CiBotError):
    """A git operation failed; the message says what failed and what to do."""


@dataclass(frozen=True)
class Snapshot:
    """A commit of a mirror and its config file (name, text), or None without one."""

    commit: Commit
    config: tuple[str, str] | None


@dataclass(frozen=True)
class Lookups:
    """What ``Mirrors.snapshots`` read: snapshots by ref, and which other refs are commits."""

    snapshots: Mapping[str, Snapshot]
    commits: frozenset[str]


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    author: str

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0].strip()


def mask(text: str, url: str = "") -> str:
    """``text`` with credentials in URLs (and ``url``'s own secret anywhere) shown as ***."""
    parts = urlsplit(url) if "://" in url else None
    if parts is not None:
        secret = parts.password or (parts.username if parts.scheme.startswith("http") else None)
        for form in {secret, unquote(secret)} if secret and len(secret) >= 6 else ():
            text = text.replace(form, "***")
    return _USERINFO.sub(
        lambda m: f"{m['scheme']}{m['user']}:***@" if m["pw"] else f"{m['scheme']}***@", text
    )


def run_git(
    cwd: Path, *args: str, failed: str, hint: str, url: str = "", stdin: str | None = None
) -> str:
    """Run one git command (``stdin``, when given, on its input); its stdout, or
    GitError('<failed>: <git's words>. <hint>').

    As GitPython ran it (stdout without its last newline, git's words in English), but
    without importing GitPython: ``ci-bot run`` of a directory needs only this."""
    level = logging.INFO if args[0] in ("fetch", "ls-remote", "init") else logging.DEBUG
    logger.log(level, "git %s (in %s)", mask(" ".join(args), url), cwd)
    env = {**os.environ, **_ENV, "LANGUAGE": "C", "LC_ALL": "C"}
    try:
        given = stdin.encode("utf-8", "surrogateescape") if stdin is not None else None
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            input=given,
            stdin=subprocess.DEVNULL if given is None else None,
            capture_output=True,
        )
    except FileNotFoundError:
        if not Path(cwd).is_dir():
            raise GitError(mask(f"{failed}: {cwd} does not exist. {hint}", url)) from None
        raise GitError("git is not installed or not on PATH; install git") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "surrogateescape")
        words = " ".join(line.strip() for line in err.splitlines() if line.strip())
        raise GitError(mask(f"{failed}: {words or f'exit status {done.returncode}'}. {hint}", url))
    out = done.stdout.decode("utf-8", "surrogateescape")
    return out[:-1] if out.endswith("\n") else out


_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock: a thread lock in this process, an flock across processes."""
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(path, threading.Lock())
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock, open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


class Mirrors:
    """One bare mirror per repository under ``root``.

    A full sha once found to be a commit of a mirror stays one (fetching only adds
    objects), so it is remembered and not asked of git again."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self._commits: set[tuple[str, str]] = set()  # (repository, sha) known commits

    def mirror_path(self, repo: str) -> Path:
        """A single, safe directory name inside root: readable slug + hash of the name."""
        slug = _UNSAFE.sub("-", repo).strip(".-")[:80] or "repo"
        digest = hashlib.sha256(repo.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        return self.root / f"{slug}-{digest}.git"

    def fetch(self, repo: str, url: str, refs: Sequence[str] = ()) -> Path:
        """Create or update the mirror of ``repo``; ``refs`` are extra refspecs."""
        path = self.mirror_path(repo)
        refspecs = [*_REFSPECS, *(_forced(ref) for ref in refs)]
        with _locked(path):
            if (path / "HEAD").is_file():
                self._fetch_into(path, repo, url, refspecs)
            else:
                self._create(path, repo, url, refspecs)
        return path

    def _create(self, path: Path, repo: str, url: str, refspecs: list[str]) -> None:
        # Built aside and renamed into place, so a failed first fetch leaves no half mirror.
        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)  # a crash's leftover; we hold the lock
        run_git(self.root, "init", "--bare", "--quiet", str(partial), failed="git init", hint="")
        (partial / "info").mkdir(exist_ok=True)
        (partial / "info" / "attributes").write_text(_ATTRIBUTES)
        try:
            self._fetch_into(partial, repo, url, refspecs)
            self._set_head(partial, repo, url)
        except GitError:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        partial.rename(path)

    def _fetch_into(self, path: Path, repo: str, url: str, refspecs: list[str]) -> None:
        # By URL, not a configured remote: the token never lands in the mirror's config.
        args = ("fetch", "--prune", "--quiet", "--no-write-fetch-head", "--", url, *refspecs)
        failed = f"could not fetch {repo} from {url}"
        run_git(path, *args, failed=failed, hint=_FETCH_HINT, url=url)

    def _set_head(self, path: Path, repo: str, url: str) -> None:
        failed = f"could not read the default branch of {repo} from {url}"
        out = run_git(
            path, "ls-remote", "--symref", "--", url, "HEAD", failed=failed, hint="", url=url
        )
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/"):
                branch = line[len("ref: ") :].split("\t")[0]
                run_git(path, "symbolic-ref", "HEAD", branch, failed="git symbolic-ref", hint="")

    def resolve(self, repo: str, ref: str) -> str:
        """The commit sha that ``ref`` (a branch, tag, ref or sha) names in the mirror."""
        path = self._existing(repo)
        if (repo, ref) in self._commits:
            return ref
        if not ref or ref.startswith("-"):
            raise GitError(f"{ref!r} is not a git ref or commit sha")
        sha = run_git(
            path,
            *("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"),
            failed=f"{ref} is not a commit in the mirror of {repo}",
            hint=_RESOLVE_HINT,
        )
        self._remember(repo, sha)
        return sha

    def snapshot(self, repo: str, ref: str) -> Snapshot:
        """The commit ``ref`` names and its config (the first of CONFIG_FILES present),
        read by one ``git cat-file --batch``: what launching needs, in one process."""
        path = self._existing(repo)
        if not _usable_ref(ref):
            raise GitError(f"{ref!r} is not a git ref or commit sha")
        return self._snapshot_of(repo, ref, _cat_file(path, _snapshot_names(ref)))

    def snapshots(self, repo: str, refs: Sequence[str], also: Sequence[str] = ()) -> Lookups:
        """``snapshot`` of each of ``refs`` (those it fails for are left out: ``snapshot``
        says why) and which of ``also`` are commits, all from one ``git cat-file``."""
        path = self._existing(repo)
        refs = [ref for ref in dict.fromkeys(refs) if _usable_ref(ref)]
        also = [ref for ref in dict.fromkeys(also) if _usable_ref(ref)]
        names = [name for ref in refs for name in _snapshot_names(ref)]
        objects = _cat_file(path, [*names, *(f"{ref}^{{commit}}" for ref in also)])
        found: dict[str, Snapshot] = {}
        width = 1 + len(CONFIG_FILES)
        for index, ref in enumerate(refs):
            try:
                found[ref] = self._snapshot_of(repo, ref, objects[index * width :][:width])
            except GitError:
                continue
        tail = zip(also, objects[len(names) :], strict=True)
        commits = frozenset(ref for ref, seen in tail if seen is not None and seen[0] == "commit")
        return Lookups(found, commits)

    def _snapshot_of(self, repo: str, ref: str, objects: Sequence[_Object | None]) -> Snapshot:
        found = objects[0]
        if found is None or found[0] != "commit":
            raise GitError(f"{ref} is not a commit in the mirror of {repo}. {_RESOLVE_HINT}")
        commit = _parse_commit(found[1], found[2])
        self._remember(repo, commit.sha)
        for name, blob in zip(CONFIG_FILES, objects[1:], strict=True):
            if blob is not None and blob[0] == "blob":
                try:
                    return Snapshot(commit, (name, blob[2].decode("utf-8")))
                except UnicodeDecodeError:
                    raise GitError(
                        f"{name} at {commit.sha[:12]} in {repo} is not UTF-8; save it as UTF-8"
                    ) from None
        return Snapshot(commit, None)

    def _remember(self, repo: str, sha: str) -> None:
        if len(self._commits) > 100_000:  # a long-lived bot: forget, and ask git again
            self._commits.clear()
        self._commits.add((repo, sha))

    def commit(self, repo: str, sha: str) -> Commit:
        import git

        full = self.resolve(repo, sha)
        with git.Repo(self._existing(repo)) as mirror:
            return _to_commit(mirror.commit(full))

    def read_file(self, repo: str, sha: str, path: str) -> str | None:
        """The text of ``path`` at commit ``sha``; None when there is no such file."""
        import git

        full = self.resolve(repo, sha)
        logger.debug("read %s at %s in %s", path, full, repo)
        with git.Repo(self._existing(repo)) as mirror:
            try:
                item = mirror.commit(full).tree / path
            except KeyError:
                return None
            if not isinstance(item, git.Blob):
                return None
            data: bytes = item.data_stream.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise GitError(
                f"{path} at {full[:12]} in {repo} is not UTF-8; save it as UTF-8"
            ) from None

    def read_config(self, repo: str, sha: str) -> tuple[str, str] | None:
        """(file name, text) of the first of CONFIG_FILES present at commit ``sha``."""
        for name in CONFIG_FILES:
            text = self.read_file(repo, sha, name)
            if text is not None:
                return name, text
        return None

    def materialize(self, repo: str, sha: str, dest: Path) -> None:
        """Write the tree of ``sha`` into ``dest`` (empty or absent), without .git."""
        full = self.resolve(repo, sha)
        _prepare_empty(dest)
        logger.debug("git archive --format=tar %s (in %s) into %s", full, repo, dest)
        unpack_archive(self._existing(repo), full, dest, what=f"{repo} at {full[:12]}")

    def paths_at(self, repo: str, sha: str) -> set[str]:
        """Every file path (symlinks included, submodules not) at commit ``sha``."""
        full = self.resolve(repo, sha)
        out = run_git(
            self._existing(repo),
            *("ls-tree", "-r", "-z", full),
            failed=f"could not list the files of {repo} at {full[:12]}",
            hint="Fetch the repository again",
        )
        entries = (entry.split("\t", 1) for entry in out.split("\0") if entry)
        return {path for meta, path in entries if meta.split(" ")[1] == "blob"}

    def history(self, repo: str) -> History:
        """The mirror's history of ``repo``: bases, changed files, a ``.git`` for a workspace."""
        from ci_bot.history import History

        return History(self._existing(repo), repo)

    def _existing(self, repo: str) -> Path:
        path = self.mirror_path(repo)
        if not (path / "HEAD").is_file():
            raise GitError(f"there is no mirror of {repo} yet; fetch it first")
        return path


_FETCH_HINT = "Check the URL and that its credentials may read the repository"
_RESOLVE_HINT = "Fetch it first (refs/pull/N/head needs an extra refspec) or check the name"
_COMMIT_AUTHOR = re.compile(rb"^author (.*?) <", re.MULTILINE)


_Object = tuple[str, str, bytes]  # type, sha, content


def _usable_ref(ref: str) -> bool:
    """A ref or sha that can go on a ``cat-file --batch`` line (and never reads as an option)."""
    return bool(ref) and not ref.startswith("-") and ref.isprintable() and " " not in ref


def _snapshot_names(ref: str) -> list[str]:
    """The objects a snapshot reads: the commit, then each of CONFIG_FILES in it."""
    commit_name = f"{ref}^{{commit}}"
    return [commit_name, *(f"{commit_name}:{name}" for name in CONFIG_FILES)]


def _cat_file(path: Path, names: Sequence[str]) -> list[_Object | None]:
    """(type, sha, content) of each object ``names`` name in the repository at ``path``
    (None for a missing one), from one ``git cat-file --batch``."""
    logger.debug("git cat-file --batch %s (in %s)", " ".join(names), path)
    try:
        done = subprocess.run(
            ["git", "cat-file", "--batch"],
            cwd=path,
            input="".join(f"{name}\n" for name in names).encode("utf-8", "surrogateescape"),
            capture_output=True,
            env={**os.environ, **_ENV},
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH; install git") from None
    if done.returncode != 0:
        words = done.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git cat-file failed in {path}: {words or done.returncode}")
    out, position = done.stdout, 0
    found: list[_Object | None] = []
    for _ in names:
        end = out.index(b"\n", position)
        header = out[position:end].decode("utf-8", "replace").split(" ")
        position = end + 1
        if len(header) != 3 or not header[2].isdigit():  # "<name> missing" / "ambiguous"
            found.append(None)
            continue
        size = int(header[2])
        found.append((header[1], header[0], out[position : position + size]))
        position += size + 1  # the content, then a newline
    return found


def _parse_commit(sha: str, raw: bytes) -> Commit:
    """A raw commit object: its headers, a blank line, the message."""
    headers, _, message = raw.partition(b"\n\n")
    author = _COMMIT_AUTHOR.search(headers)
    return Commit(
        sha=sha,
        message=message.decode("utf-8", "replace"),
        author=author.group(1).decode("utf-8", "replace") if author else "",
    )


def _forced(refspec: str) -> str:
    """``ref`` → ``+ref:ref``: a force-pushed pull request must still update the mirror."""
    if ":" not in refspec:
        refspec = f"{refspec}:{refspec.lstrip('+')}"
    return refspec if refspec.startswith("+") else f"+{refspec}"


def _to_commit(found: git.Commit) -> Commit:
    message = found.message
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return Commit(sha=found.hexsha, message=message, author=found.author.name or "")


def unpack_archive(repo_dir: Path, commit: str, dest: Path, *, what: str) -> None:
    """``git archive`` of ``commit`` in ``repo_dir`` unpacked into ``dest`` by ``tar``.

    tar rather than Python's tarfile: unpacking is a quarter of handling a delivery, and
    in a process of its own it neither holds the GIL nor slows the requests and the
    engine beside it.  A git tree holds no absolute path, no ``..`` and no owner, so
    tarfile's safety filter has nothing to refuse here; ``tar.umask`` gives the modes it
    gave (0644, and 0755 for executables and directories), symlinks stay links."""
    env = {**os.environ, **_ENV, "LC_ALL": "C"}
    archive_command = ["git", "-c", "tar.umask=0022", "archive", "--format=tar", commit]
    unpack_command = ["tar", "-x", "--no-same-owner", "-f", "-", "-C", str(dest)]
    try:
        with subprocess.Popen(
            archive_command, cwd=repo_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as archive:
            assert archive.stdout is not None and archive.stderr is not None
            unpacked = subprocess.run(
                unpack_command, stdin=archive.stdout, capture_output=True, env=env, check=False
            )
            archive.stdout.close()  # tar is done with it: git may not wait on a full pipe
            archive_errors = archive.stderr.read()
    except OSError as error:  # git or tar missing, or the repository directory gone
        raise GitError(f"could not write {what} into {dest}: {error}") from None
    said = [
        words.decode("utf-8", "replace").strip()
        for code, words in (
            (archive.returncode, archive_errors),
            (unpacked.returncode, unpacked.stderr),
        )
        if code != 0
    ]
    if said:
        raise GitError(
            f"could not write {what} into {dest}: {'; '.join(w for w in said if w) or 'failed'}. "
            "Check free disk space and permissions"
        )


def _prepare_empty(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise GitError(f"{dest} is not empty; give an empty or absent directory")


def local_snapshot(source: Path, dest: Path) -> None:
    """Copy ``source`` as it is (uncommitted edits too) into ``dest``, without .git.

    Symlinks are copied as links, never followed; sockets and pipes are skipped.
    """
    if not source.is_dir():
        raise GitError(f"{source} is not a directory; give the repository's directory")
    _prepare_empty(dest)
    inside = dest.resolve()

    def not_copied(directory: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if name == ".git"}
        for name in names:
            full = Path(directory, name)
            mode = full.lstat().st_mode
            if stat.S_ISDIR(mode) and full.resolve() == inside:
                skipped.add(name)  # dest inside source: don't copy the copy
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                skipped.add(name)
        return skipped

    logger.info("copy %s into %s without .git", source, dest)
    try:
        shutil.copytree(source, dest, symlinks=True, ignore=not_copied, dirs_exist_ok=True)
    except (shutil.Error, OSError) as error:
        raise GitError(f"could not copy {source} into {dest}: {error}; check permissions") from None


def local_head(source: Path) -> Commit | None:
    """The HEAD commit of the work tree at ``source``; None if not a repository or no commits."""
    if not is_work_tree_top(source):
        return None
    try:
        shown = run_git(source, "log", "-1", "--format=%H%x00%an%x00%B", "HEAD", failed="", hint="")
    except GitError:
        return None  # no commit yet
    sha, author, message = shown.split("\0", 2)
    return Commit(sha=sha, message=message, author=author)


def is_work_tree_top(source: Path) -> bool:
    """Whether ``source`` is the top of a (non-bare) repository's work tree: a directory
    inside one is not, as GitPython's ``Repo(source)`` would not take it either."""
    if not source.is_dir():
        return False
    try:
        bare, prefix = (
            run_git(
                source, "rev-parse", "--is-bare-repository", "--show-prefix", failed="", hint=""
            )
            + "\n"
        ).split("\n")[:2]
    except GitError:
        return False
    return bare == "false" and prefix == ""
