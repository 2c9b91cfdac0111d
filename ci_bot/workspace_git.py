"""A pipeline's ``/workspace/.git``: promised at launch, written when a workspace is built.

Writing a ``.git`` takes five git processes (``History.write_git_dir``); done at
launch it was most of the time a queue worker spent on each delivery, and it was
paid by every pipeline, also one superseded before it ran or whose nodes were all
reused.  So launching only *promises* it: a small recipe beside the directory it
names (which repository, commit, depth, branch, tag), and the executor that builds
a node's workspace calls ``provide`` first.  Once written the directory stays
(every later workspace of the pipeline uses it as it is) until retention removes
the pipeline's files.

Nodes see the same ``.git`` as before: the commit is read from the same mirror (or
work tree), which only ever gains objects (a fetch adds; git keeps unreachable
objects for weeks before pruning them).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ci_bot.git import GitError
from ci_bot.history import History

logger = logging.getLogger(__name__)

RECIPE_SUFFIX = ".recipe.json"

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class Recipe:
    """Everything ``History.write_git_dir`` needs, kept as JSON beside its directory."""

    repository: str  # the bare mirror or work tree the history is read from
    name: str  # for messages: "acme/app"
    sha: str
    depth: int  # 0: the whole history
    branch: str = ""
    tag: str = ""


def recipe_path(dest: Path) -> Path:
    return dest.with_name(dest.name + RECIPE_SUFFIX)


def promise(dest: Path, history: History, sha: str, depth: int, *, branch: str, tag: str) -> None:
    """Record how to write the ``.git`` at ``dest``; nothing is read from git now."""
    if dest.is_dir() or recipe_path(dest).is_file():
        return
    recipe = Recipe(str(history.path.resolve()), history.name, sha, depth, branch, tag)
    partial = dest.with_name(dest.name + ".recipe.partial")
    partial.write_text(json.dumps(asdict(recipe), indent=2) + "\n", encoding="utf-8")
    partial.replace(recipe_path(dest))  # whole or not at all, for a reader in another thread


def promised(dest: Path) -> bool:
    """Whether ``dest`` is written, or will be by ``provide``."""
    return dest.is_dir() or recipe_path(dest).is_file()


def provide(paths: Iterable[Path]) -> None:
    """Write every promised ``.git`` among ``paths`` not written yet (other paths are left
    alone); a GitError says which could not be written."""
    for dest in paths:
        if dest.exists():
            continue
        recipe = _read(recipe_path(dest))
        if recipe is None:
            continue  # not a promise: an ordinary file the caller reads as it is
        with _lock_of(dest):  # parallel nodes of one pipeline write it once
            if not dest.exists():
                _write(recipe, dest)


def _write(recipe: Recipe, dest: Path) -> None:
    history = History(Path(recipe.repository), recipe.name)
    if not history.path.is_dir():
        raise GitError(
            f"cannot write /workspace/.git for {recipe.name} at {recipe.sha[:12]}: "
            f"{recipe.repository} is gone. Start a new pipeline for this commit"
        )
    try:
        history.write_git_dir(recipe.sha, dest, recipe.depth, branch=recipe.branch, tag=recipe.tag)
    except OSError as error:  # the data dir's disk, not git
        raise GitError(f"cannot write {dest}: {error}. Check free disk space") from None


def _read(path: Path) -> Recipe | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise GitError(f"cannot read {path}: {error}") from None
    return Recipe(**document)


def _lock_of(dest: Path) -> threading.Lock:
    with _locks_guard:
        if len(_locks) > 10_000:  # a long-lived bot: drop the locks of written directories
            for written in [path for path, lock in _locks.items() if not lock.locked()]:
                del _locks[written]
        return _locks.setdefault(dest, threading.Lock())
