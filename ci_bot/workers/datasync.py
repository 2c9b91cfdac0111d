"""$CI_DATA and the source snapshot between one host's disk and the shared store.

``pull`` makes a directory what the store says the pipeline's $CI_DATA is and
returns that manifest; ``push`` sends what changed since a manifest (new and
changed files, removed ones) as one change of only those paths, so nodes that ran
in parallel on different hosts merge their outputs. Contents are stored once per
hash. Symbolic links are not carried (a warning says which).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tarfile
import threading
from pathlib import Path

from ci_bot.store.shared import Manifest, SharedFile, SharedRecords

logger = logging.getLogger(__name__)


class DataSync:
    def __init__(self, store: SharedRecords) -> None:
        self._store = store
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, pipeline_id: int) -> threading.Lock:
        """One sync at a time per pipeline on this host."""
        with self._guard:
            return self._locks.setdefault(pipeline_id, threading.Lock())

    # --- $CI_DATA --------------------------------------------------------------------

    def pull(self, pipeline_id: int, directory: Path) -> dict[str, SharedFile]:
        """``directory`` made to hold exactly the pipeline's shared $CI_DATA."""
        wanted = self._store.shared_files(pipeline_id)
        have = scan(directory)
        for path in set(have) - set(wanted):
            (directory / path).unlink()
        for path, file in wanted.items():
            if have.get(path) != file:
                target = directory / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self._store.blob(file.sha256))
                target.chmod(file.mode)
        return wanted

    def push(self, pipeline_id: int, directory: Path, base: Manifest) -> int:
        """Send what changed in ``directory`` since ``base``; how many paths changed."""
        now = scan(directory)
        changes: dict[str, SharedFile | None] = {}
        for path, file in now.items():
            if base.get(path) != file:
                self._store.put_blob(file.sha256, (directory / path).read_bytes())
                changes[path] = file
        for path in set(base) - set(now):
            changes[path] = None
        self._store.change_shared_files(pipeline_id, changes)
        return len(changes)

    # --- the source snapshot -----------------------------------------------------------

    def publish_source(self, pipeline_id: int, source: Path) -> None:
        """The snapshot into the store, once per pipeline."""
        if self._store.shared_source(pipeline_id) is not None:
            return
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(source, arcname=".")
        data = buffer.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        self._store.put_blob(sha, data)
        self._store.set_shared_source(pipeline_id, sha)

    def fetch_source(self, pipeline_id: int, root: Path) -> Path:
        """The snapshot unpacked under ``root`` (once per content); its directory."""
        sha = self._store.shared_source(pipeline_id)
        if sha is None:
            raise FileNotFoundError(f"pipeline {pipeline_id}'s source was never published")
        return self.fetch_blob_tree(sha, root)

    def publish_paths(self, paths: list[Path]) -> str:
        """Files or directories as one blob (numbered in order); its hash."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for index, path in enumerate(paths):
                tar.add(path, arcname=str(index))
        data = buffer.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        self._store.put_blob(sha, data)
        return sha

    def fetch_blob_tree(self, sha: str, root: Path) -> Path:
        """A blob of ``publish_paths`` (or a source) unpacked under ``root``; its directory."""
        target = root / sha
        if target.is_dir():
            return target
        partial = root / f"{sha}.partial-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(self._store.blob(sha)), mode="r:gz") as tar:
            tar.extractall(partial, filter="tar")
        try:
            partial.rename(target)
        except OSError:  # another slot unpacked it first
            shutil.rmtree(partial, ignore_errors=True)
        return target


def scan(directory: Path) -> dict[str, SharedFile]:
    """Every regular file below ``directory`` by relative path, with its hash and mode."""
    found: dict[str, SharedFile] = {}
    if not directory.is_dir():
        return found
    for current, _, names in os.walk(directory):
        for name in names:
            path = Path(current) / name
            relative = str(path.relative_to(directory))
            if path.is_symlink() or not path.is_file():
                logger.warning("$CI_DATA/%s is not a regular file; not carried", relative)
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[relative] = SharedFile(digest, path.stat().st_mode & 0o777)
    return found
