"""Files under a root the bot does not control: a source snapshot, a pipeline's $CI_DATA.

Containers write $CI_DATA as root and can leave symlinks to anywhere on the
bot's machine, or FIFOs that block whoever opens them.  So nothing here follows
a link out of its root or opens anything but a regular file: matches are found
by glob, kept only when their directory lies inside the root; links are
copied as links; FIFOs, sockets and devices are left alone; and a copy never
writes through a link it finds at the destination.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path


def matches(root: Path, pattern: str) -> Iterator[Path]:
    """What ``pattern`` (a pathlib glob, ``**`` included) matches inside ``root``, sorted;
    a matched directory is given as itself (see ``files_below``)."""
    real_root = root.resolve()
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        return
    try:
        found = sorted(root.glob(pattern))
    except (ValueError, NotImplementedError):  # a pattern pathlib refuses matches nothing
        return
    for path in found:
        if path != root and is_inside(path, real_root):
            yield path


def files_below(root: Path, patterns: Iterable[str]) -> dict[str, Path]:
    """Every regular file or symlink matching ``patterns`` (a matched directory stands for
    everything below it), by its path relative to ``root``."""
    real_root = root.resolve()
    found: dict[str, Path] = {}
    for pattern in patterns:
        for path in matches(root, pattern):
            below = sorted(path.rglob("*")) if is_real_dir(path) else [path]
            for item in below:
                if is_inside(item, real_root) and (is_link(item) or is_regular(item)):
                    found[item.relative_to(root).as_posix()] = item
    return dict(sorted(found.items()))


def is_inside(path: Path, real_root: Path) -> bool:
    """Whether ``path`` lies in ``real_root`` without following ``path`` itself if a link."""
    return path.parent.resolve().is_relative_to(real_root)


def is_link(path: Path) -> bool:
    return path.is_symlink()


def is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def place(source: Path, target: Path) -> None:
    """Copy ``source`` (a file, a link or a directory tree) to ``target``, replacing what
    is there.  Links are copied as links; anything not a file, link or directory is skipped;
    a link at ``target`` (or below it) is replaced, never written through."""
    if is_link(source):
        remove(target)
        os.symlink(os.readlink(source), target)
    elif is_real_dir(source):
        if not is_real_dir(target):
            remove(target)
            target.mkdir()
        for child in sorted(source.iterdir()):
            place(child, target / child.name)
    elif is_regular(source):
        remove(target)
        shutil.copy2(source, target, follow_symlinks=False)


def remove(path: Path) -> None:
    """Remove whatever is at ``path`` (a directory tree too; a link, not what it points to)."""
    if is_real_dir(path):
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()
