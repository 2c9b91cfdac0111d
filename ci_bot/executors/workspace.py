"""A pristine /workspace for every container, built once per (pipeline, image).

The source goes into the top layer of a derived image: a container is created
(never started) from the base image, a tar of the source is put at /workspace,
and the container is committed with ``WORKDIR /workspace``. There is no
Dockerfile and no FROM, so nothing here can pull. Every Exec container of the
pipeline then gets its own copy-on-write /workspace for free: a node deleting
files never affects another, and a reset node starts clean.  The same layer
carries the spec's ``workspace_extras`` (the commit's ``.git`` at a node's
``git_depth``, ``/ci/changed-files``), so they cost one build, not one per node; the
``.git`` is written here, for the first image that needs it (``workspace_git``).

Derived images are named after (pipeline, image), so an executor started after a
crash finds the ones already built; they carry the ``ci-bot.pipeline`` label and
go away with ``release`` — when the pipeline is archived, not when it settles, so a
reset node and ``ci-bot resume`` start on them without building them again.

The id of each image built or found is remembered, so a node asks the engine
nothing before creating its container; when the image went meanwhile (another
process archived the pipeline, someone pruned images) the container's creation
fails with "no such image", the executor calls ``forget`` and builds it again.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import IO

from docker import DockerClient
from docker.errors import APIError, ImageNotFound

from ci_bot import workspace_git
from ci_bot.errors import ExecutorError
from ci_bot.executors.base import LABEL_BOT, LABEL_PIPELINE
from ci_bot.executors.images import missing_image_message
from ci_bot.git import GitError

logger = logging.getLogger(__name__)

WORKSPACE = "/workspace"
REPOSITORY = "ci-bot-workspace"
LABEL_BASE_IMAGE = "ci-bot.workspace-of"
# The checkout an image holds: whoever finds one on the engine can tell where it came from.
LABEL_SOURCE = "ci-bot.workspace-source"


Extras = tuple[tuple[Path, str], ...]  # (path here, path in the container)


def derived_image_name(
    pipeline_id: str, image: str, bot_id: str = "", source: str = "", extras: Extras = ()
) -> str:
    """The deterministic name of the workspace image for (bot, pipeline, image, source,
    extras): another bot's pipeline with the same id never gets this one's checkout."""
    key = f"{bot_id}\0{pipeline_id}\0{image}\0{source}"
    key += "".join(f"\0{here}\0{there}" for here, there in extras)
    return f"{REPOSITORY}:{hashlib.sha256(key.encode()).hexdigest()[:24]}"


class BaseImageMissing(ExecutorError):
    """The image the workspace image derives from is not on the engine."""


class WorkspaceImages:
    """Builds derived images on demand; parallel nodes of one pipeline wait for one build."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._building: dict[tuple[str, str, Extras], threading.Lock] = {}
        self._known: dict[str, tuple[str, str]] = {}  # name -> (pipeline id, image id)

    def image_for(
        self,
        client: DockerClient,
        pipeline_id: str,
        image: str,
        source: Path,
        bot_id: str = "",
        extras: Extras = (),
    ) -> str:
        """The id of the derived image, built first if the engine does not have it."""
        extras = tuple((Path(here), str(there)) for here, there in extras)  # a key: hashable
        with self._lock:
            key = (pipeline_id, image, extras)
            key_lock = self._building.setdefault(key, threading.Lock())
        name = derived_image_name(pipeline_id, image, bot_id, str(source), extras)
        with self._lock:
            known = self._known.get(name)
        if known is not None:
            return known[1]
        with key_lock:
            try:
                logger.debug("docker images.get %s", name)
                image_id = str(client.images.get(name).id)
            except ImageNotFound:
                image_id = self._build(client, pipeline_id, image, (source, extras), name, bot_id)
            with self._lock:
                self._known[name] = (pipeline_id, image_id)
            return image_id

    def forget(self, image_id: str) -> None:
        """The engine no longer has ``image_id``: the next ``image_for`` looks again."""
        with self._lock:
            for name in [n for n, (_, known) in self._known.items() if known == image_id]:
                del self._known[name]

    def pipelines(self, client: DockerClient, bot_id: str = "") -> set[str]:
        """The pipeline ids the engine holds workspace images of (the bot's, given one)."""
        labels = [LABEL_BASE_IMAGE] + ([f"{LABEL_BOT}={bot_id}"] if bot_id else [])
        logger.debug("docker images.list label=%s", labels)
        found = client.images.list(filters={"label": labels})
        return {str(image.labels.get(LABEL_PIPELINE, "")) for image in found} - {""}

    def release(self, client: DockerClient, pipeline_id: str, bot_id: str = "") -> None:
        """Remove the pipeline's derived images (a running container keeps its layers)."""
        with self._lock:
            for key in [key for key in self._building if key[0] == pipeline_id]:
                del self._building[key]
            for name in [n for n, (pipeline, _) in self._known.items() if pipeline == pipeline_id]:
                del self._known[name]
        labels = [f"{LABEL_PIPELINE}={pipeline_id}", LABEL_BASE_IMAGE]
        if bot_id:
            labels.append(f"{LABEL_BOT}={bot_id}")
        logger.debug("docker images.list label=%s", labels)
        for derived in client.images.list(filters={"label": labels}):
            for name in derived.tags or [str(derived.id)]:
                logger.debug("docker images.remove %s", name)
                try:
                    client.images.remove(name, force=True)
                except ImageNotFound:
                    pass  # released by someone else meanwhile
                except APIError as exc:  # a container still runs on it
                    logger.warning("could not remove workspace image %s: %s", name, exc)

    def _build(
        self,
        client: DockerClient,
        pipeline_id: str,
        image: str,
        files: tuple[Path, Extras],
        name: str,
        bot_id: str,
    ) -> str:
        source, extras = files
        if not source.is_dir():
            raise ExecutorError(f"the source directory {source} does not exist")
        try:  # the commit's .git, promised at launch, is written for the first image
            workspace_git.provide(here for here, _ in extras)
        except GitError as error:
            raise ExecutorError(str(error)) from None
        try:
            logger.debug("docker images.get %s", image)
            base = client.images.get(image)
        except ImageNotFound:
            raise BaseImageMissing(missing_image_message(image)) from None
        owner = _owner(str(base.attrs.get("Config", {}).get("User") or ""))
        labels = {LABEL_PIPELINE: pipeline_id, LABEL_BASE_IMAGE: image, LABEL_SOURCE: str(source)}
        if bot_id:
            labels[LABEL_BOT] = bot_id
        logger.debug("docker containers.create %s (workspace builder)", image)
        builder = client.containers.create(str(base.id), command=["true"], labels=labels)
        try:
            with tempfile.TemporaryFile() as archive:
                _write_tar(source, archive, owner, extras)
                archive.seek(0)
                logger.debug("docker put_archive %s -> %s", source, builder.id)
                builder.put_archive("/", archive)
            repository, tag = name.split(":")
            logger.debug("docker commit %s -> %s", builder.id, name)
            derived = builder.commit(repository, tag, pause=False, changes=[f"WORKDIR {WORKSPACE}"])
        finally:
            logger.debug("docker remove %s", builder.id)
            builder.remove(force=True)
        return str(derived.id)


def _owner(user: str) -> tuple[int, int]:
    """Numeric owner for the workspace files: the image's user when it is numeric, else root."""
    uid, _, gid = user.partition(":")
    if uid.isdigit():
        return int(uid), int(gid) if gid.isdigit() else int(uid)
    if uid and uid != "root":
        logger.warning("image user %r is not numeric; /workspace files stay owned by root", user)
    return 0, 0


def _write_tar(
    source: Path, archive: IO[bytes], owner: tuple[int, int], extras: Extras = ()
) -> None:
    """``source`` as ``workspace/…`` and each extra at its path, owned by ``owner``; the top
    directories are world-readable."""

    def chown(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid = owner
        info.uname = info.gname = ""
        if info.name == WORKSPACE.lstrip("/"):
            info.mode = 0o755
        return info

    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(source, arcname=WORKSPACE.lstrip("/"), filter=chown)
        for here, there in extras:
            _add_parents(tar, there)
            tar.add(here, arcname=there.lstrip("/"), filter=chown)


def _add_parents(tar: tarfile.TarFile, path: str) -> None:
    """Directories above an extra that the archive lacks (``/ci``), root's and 0755: the
    engine mounts $CI_DATA and $CI_CACHE in there."""
    parts = path.strip("/").split("/")[:-1]
    for end in range(1, len(parts) + 1):
        name = "/".join(parts[:end])
        if name not in tar.getnames():
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
