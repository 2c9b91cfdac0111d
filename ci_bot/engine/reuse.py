"""``reuse``: an Exec that already ran green on the same image, command, env and
input files is not run again; the outputs it left in $CI_DATA are restored instead.

``reuse_key`` is pure: a sha256 over a canonical JSON form of what decides a
run's outcome.  ``input_files`` reads the pipeline's source snapshot, and
``ReuseCache`` keeps outputs under ``<data dir>/reuse/<key>/<execution id>/``
(the store maps keys to the executions that saved them).  Only an Exec's
first execution in a pipeline looks for an earlier result: a retry or a reset
runs the command, since people reset a node to run it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_bot.engine.datafiles import files_below, is_link, matches, place, remove
from ci_bot.errors import ExecutorError
from ci_bot.executors.base import ExecSpec, Executor
from ci_bot.settings import Settings
from ci_bot.store.records import Pipeline
from ci_bot.store.store import Store
from ci_bot.tree.params import Reuse

logger = logging.getLogger(__name__)

KEY_VERSION = 1  # bump when what goes into the key changes: old results stop matching


@dataclass(frozen=True)
class KeyInputs:
    """What decides whether an earlier run's result stands for this one."""

    image: str  # the name the config gives
    image_id: str  # what the Docker engine holds under that name now
    command: str
    env: Mapping[str, str]  # the node's resolved env; not the CI_* context (it differs per run)
    secret_names: tuple[str, ...]  # names only: a rotated secret value keeps its results
    reuse: Reuse
    # (path in the repository, "file:<sha256 of its bytes>" or "link:<its target>")
    files: tuple[tuple[str, str], ...]


def reuse_key(inputs: KeyInputs) -> str:
    document = {
        "version": KEY_VERSION,
        "image": inputs.image,
        "image_id": inputs.image_id,
        "command": inputs.command,
        "env": sorted(inputs.env.items()),
        "secrets": sorted(set(inputs.secret_names)),
        # The outputs are part of it: the same command saving other paths is another result.
        "inputs": list(inputs.reuse.inputs),
        "outputs": list(inputs.reuse.outputs),
        "files": sorted(inputs.files),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def input_files(source_dir: Path, patterns: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The files of ``source_dir`` matching ``patterns``, with a digest of each one's bytes
    (a link: its target, never what it points to)."""
    found = files_below(source_dir, patterns)
    return tuple(
        (relative, f"link:{os.readlink(path)}" if is_link(path) else f"file:{file_sha256(path)}")
        for relative, path in found.items()
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Reused:
    """An earlier execution whose outputs were restored into this pipeline's $CI_DATA."""

    execution_id: int
    message: str


class ReuseCache:
    """Saved outputs on disk, their keys in the store."""

    def __init__(self, settings: Settings, store: Store, executor: Executor) -> None:
        self.root = settings.data_dir / "reuse"
        self.store = store
        self.executor = executor

    def key(self, pipeline: Pipeline, spec: ExecSpec, env: Mapping[str, str], reuse: Reuse) -> str:
        """The key of this run, or "" when there is none (the reason is logged): the image
        is not on the engine, the engine does not answer, or the source cannot be read."""
        source = Path(pipeline.source_dir) if pipeline.source_dir else None
        if source is None or not source.is_dir():
            logger.warning("no reuse for %s: no source snapshot", spec.node_path)
            return ""
        try:
            image_id = self.executor.image_id(spec.image)
        except ExecutorError as error:
            logger.warning("no reuse for %s: %s", spec.node_path, error)
            return ""
        if image_id is None:
            return ""  # the run itself says the image is missing
        try:
            files = input_files(source, reuse.inputs)
        except OSError as error:
            logger.warning("no reuse for %s: reading its inputs failed: %s", spec.node_path, error)
            return ""
        secret_names = tuple(spec.secrets)
        return reuse_key(
            KeyInputs(spec.image, image_id, spec.command, env, secret_names, reuse, files)
        )

    def restore(self, repo: str, key: str, data_dir: Path) -> Reused | None:
        """Restore the newest saved result of ``key`` into ``data_dir``; None when none is."""
        for earlier in self.store.reusable(repo, key):
            saved = self._saved(key, earlier.execution_id)
            if not saved.is_dir():
                continue  # its outputs were removed; an older one may still be there
            try:
                data_dir.mkdir(parents=True, exist_ok=True)
                for item in sorted(saved.iterdir()):
                    place(item, data_dir / item.name)
            except OSError as error:
                logger.warning("restoring %s into %s failed: %s", saved, data_dir, error)
                return None  # run it for real; its outputs overwrite what got restored
            message = (
                f"reused the result of pipeline {earlier.pipeline_id}'s execution "
                f"{earlier.execution_id} (same image, command, env and inputs)"
            )
            return Reused(earlier.execution_id, message)
        return None

    def save(self, key: str, execution_id: int, data_dir: Path, outputs: tuple[str, ...]) -> str:
        """Copy the outputs out of ``data_dir`` to be offered for reuse; "" when saved,
        else a sentence saying why not (the node's result stands either way)."""
        missing = [pattern for pattern in outputs if not any(matches(data_dir, pattern))]
        if missing:
            shown = ", ".join(missing)
            return f"reuse: not saved, as $CI_DATA has nothing at {shown}"
        target = self._saved(key, execution_id)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        try:
            staging.mkdir(parents=True)
            self._copy_outputs(data_dir, outputs, staging)
            staging.rename(target)  # whole or absent: a reader never sees half of it
        except OSError as error:
            remove(staging)
            return f"reuse: could not save the outputs ({error})"
        return ""

    def discard(self, key: str, execution_id: int) -> None:
        """Drop saved outputs that will not be offered (the node did not end done after all)."""
        try:
            remove(self._saved(key, execution_id))
        except OSError as error:
            logger.warning("could not remove %s: %s", self._saved(key, execution_id), error)

    def _copy_outputs(self, data_dir: Path, outputs: tuple[str, ...], staging: Path) -> None:
        for pattern in outputs:
            for path in matches(data_dir, pattern):  # only what lies inside $CI_DATA
                target = staging / path.relative_to(data_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                place(path, target)

    def _saved(self, key: str, execution_id: int) -> Path:
        return self.root / key / str(execution_id)
