"""The tag of an image built from a repository's Dockerfile: a hash of what goes in.

Apart from ``builds.py`` so that the engine, which names a node's image before any
executor runs, does not load Docker's client to compute it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from ci_bot.tree.containers import BuildSpec

REPOSITORY = "ci-bot-build"


def build_tag(source: Path, spec: BuildSpec) -> str:
    """``ci-bot-build:HASH`` for ``spec`` at the snapshot ``source`` (which never changes)."""
    return _cached_tag(str(source), spec)


@lru_cache(maxsize=256)
def _cached_tag(source: str, spec: BuildSpec) -> str:
    digest = hashlib.sha256()
    for part in (spec.dockerfile, spec.context, repr(spec.args), spec.target or ""):
        digest.update(part.encode() + b"\0")
    root = Path(source)
    dockerfile = root / spec.dockerfile
    digest.update(dockerfile.read_bytes() if dockerfile.is_file() else b"\0missing")
    for path in _files(root / spec.context):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link\0" + os.readlink(path).encode())
        else:
            digest.update(oct(path.stat().st_mode & 0o777).encode() + path.read_bytes())
    return f"{REPOSITORY}:{digest.hexdigest()[:32]}"


def _files(context: Path) -> Iterator[Path]:
    for directory, names, files in os.walk(context):
        names.sort()
        for name in sorted(files):
            yield Path(directory) / name
