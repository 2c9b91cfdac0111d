"""What changed, as ``ci-bot plan`` and ``ci-bot run`` are told it on the command line.

``--changed FILE`` (repeatable) names the changed files outright, no git needed:
``plan --changed services/a/app.py`` shows which nodes ``changed("…")`` keeps.
``run --base REF`` asks git what differs between REF and the work tree.  Without
either, nothing is known, so every file counts as changed and nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ci_bot.tree.changes import ChangeSet
from ci_bot.tree.paths import directories_of

F = TypeVar("F", bound=Callable[..., Any])

changed_option = click.option(
    "--changed",
    "changed",
    multiple=True,
    metavar="FILE",
    help='A file that changed, relative to the repository (repeat it; --changed "" for '
    "none): what changed(…) in filters and `when` sees. Default: every file.",
)
base_option = click.option(
    "--base",
    default="",
    metavar="REF",
    help="Measure the changes from this commit (a sha, branch or tag) to the working tree: "
    "what changed(…) sees and $CI_CHANGED_FILES lists. Default: every file changed.",
)


def given_changes(changed: tuple[str, ...]) -> ChangeSet | None:
    """The change set ``--changed`` names; None when it was not given."""
    if not changed:
        return None
    return ChangeSet.of("", (path.strip().strip("/") for path in changed if path.strip()))


def run_changes(repo_dir: Path, base: str, changed: tuple[str, ...]) -> ChangeSet | None:
    """What ``run`` was told changed: ``--base`` asks git, ``--changed`` says it."""
    if base and changed:
        raise click.UsageError("give --base or --changed, not both")
    if base:
        from ci_bot.history import work_tree_changes  # GitPython: only when git is asked

        changes = work_tree_changes(repo_dir, base)
        if changes.files is None:
            raise click.ClickException(f"--base {base}: {changes.no_base}")
        return changes
    return given_changes(changed)


def directories_near(config_file: Path) -> list[str]:
    """The directories of the repository a config file is at the root of (``for_each``
    expands over them), ``.git`` left out."""
    root = config_file.parent
    files = []
    for directory, names, found in os.walk(root):
        names[:] = [name for name in names if name != ".git"]
        relative = Path(directory).relative_to(root)
        files += [(relative / name).as_posix() for name in found]
    return directories_of(files)
