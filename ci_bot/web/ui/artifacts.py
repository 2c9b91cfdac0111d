"""A pipeline's artifacts: the files its nodes left in ``$CI_DATA``, each with the
signature and provenance ``sign`` wrote beside it (``engine/signing.py``: ``X.sig``,
``X.provenance.json`` and ``X.provenance.json.sig``).

Containers write ``$CI_DATA`` as root and may leave links to anywhere on the bot's
machine, FIFOs or devices there.  So the listing never follows a link and shows
only regular files, and a download opens each directory of its path, then the file,
relative to the one before and with ``O_NOFOLLOW``, starting from the pipeline's
data dir: whatever the path asks, and whatever a container swaps in meanwhile, what
is read is a regular file inside that directory, or nothing.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ci_bot.engine.context import pipeline_dir
from ci_bot.engine.signing import PROVENANCE, SIGNATURE
from ci_bot.settings import Settings

MAX_FILES = 5000  # a listing stops counting here (and says so): a node may write millions
MAX_PROVENANCE_BYTES = 64 * 1024
# what a provenance says that the page shows (the rest is in the file)
PROVENANCE_FIELDS = ("sha256", "node_path", "execution_id", "signing_key", "signed_at", "sha")


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to $CI_DATA, "/"-separated
    size: int
    modified_at: datetime  # naive UTC, as the store's times


@dataclass(frozen=True)
class Artifact:
    file: DataFile
    signature: DataFile | None = None
    provenance: DataFile | None = None
    provenance_signature: DataFile | None = None


@dataclass(frozen=True)
class Artifacts:
    artifacts: list[Artifact] = field(default_factory=list)
    total_bytes: int = 0  # of every file listed, signatures and provenance included
    truncated: bool = False  # more than MAX_FILES files: the rest is not listed


def data_dir(settings: Settings, pipeline_id: int) -> Path:
    """The pipeline's ``$CI_DATA`` on the bot's machine."""
    return pipeline_dir(settings, pipeline_id) / "data"


def list_artifacts(root: Path, limit: int = MAX_FILES) -> Artifacts:
    """The regular files below ``root``, each signature and provenance beside its file."""
    files, truncated = _regular_files(root, limit)
    by_path = {found.path: found for found in files}
    extras: dict[str, dict[str, DataFile]] = {}
    for found in files:
        owner, suffix = _owner(found.path, by_path)
        if owner is not None:
            extras.setdefault(owner, {})[suffix] = found
    artifacts = [
        Artifact(
            found,
            signature=extras.get(found.path, {}).get(SIGNATURE),
            provenance=extras.get(found.path, {}).get(PROVENANCE),
            provenance_signature=extras.get(found.path, {}).get(PROVENANCE + SIGNATURE),
        )
        for found in files
        if _owner(found.path, by_path)[0] is None
    ]
    return Artifacts(artifacts, sum(found.size for found in files), truncated)


def _owner(path: str, by_path: dict[str, DataFile]) -> tuple[str | None, str]:
    """The artifact ``path`` signs or describes (and how), or None when it is one itself."""
    for suffix in (PROVENANCE + SIGNATURE, PROVENANCE, SIGNATURE):  # the longest first
        if path.endswith(suffix) and path[: -len(suffix)] in by_path:
            return path[: -len(suffix)], suffix
    return None, ""


def _regular_files(root: Path, limit: int) -> tuple[list[DataFile], bool]:
    found: list[DataFile] = []
    pending = [""]
    while pending:
        below = pending.pop()
        try:
            entries = sorted(os.scandir(root / below), key=lambda entry: entry.name)
        except OSError:  # gone (archived), or not a directory the bot may read
            continue
        for entry in entries:
            relative = f"{below}/{entry.name}" if below else entry.name
            if entry.is_dir(follow_symlinks=False):
                pending.append(relative)
            elif entry.is_file(follow_symlinks=False):
                if len(found) == limit:
                    return sorted(found, key=lambda f: f.path), True
                info = entry.stat(follow_symlinks=False)
                moment = datetime.fromtimestamp(info.st_mtime, UTC).replace(tzinfo=None)
                found.append(DataFile(relative, info.st_size, moment))
    return sorted(found, key=lambda f: f.path), False


def open_artifact(root: Path, relative: str) -> IO[bytes] | None:
    """The regular file at ``relative`` below ``root``, opened for reading; None when the
    path leaves ``root``, passes through a link, or names anything but a regular file."""
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or any(p in (".", "..") for p in parts):
        return None
    if any("\x00" in part for part in parts):
        return None
    try:
        directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory)
            os.close(directory)
            directory = inner
        # O_NONBLOCK: a FIFO must not hang the request (it is refused below anyway)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
        descriptor = os.open(parts[-1], flags, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        return None
    return os.fdopen(descriptor, "rb")


def read_provenance(root: Path, relative: str) -> dict[str, Any] | None:
    """What a provenance file says (the fields the page shows), or None when it cannot be
    read as a JSON object of a sensible size."""
    handle = open_artifact(root, relative)
    if handle is None:
        return None
    with handle:
        text = handle.read(MAX_PROVENANCE_BYTES + 1)
    if len(text) > MAX_PROVENANCE_BYTES:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    return {name: document[name] for name in PROVENANCE_FIELDS if name in document}
