"""Fixtures for the executor tests: a real Docker engine and ci-bot's base images.

Without an engine (or without the images) these tests skip on a developer's
machine and fail under CI=true; ``scripts/ensure-docker.sh`` and
``scripts/build-images.sh`` provide both.
"""

from __future__ import annotations

import dataclasses
import gc
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker import DockerClient
from docker.errors import DockerException, ImageNotFound

from ci_bot.executors.base import LABEL_PIPELINE, ExecSpec
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.images import BUSYBOX_IMAGE, DEBIAN_PYTHON_IMAGE
from ci_bot.executors.outcomes import root_cause
from tests.conftest import require
from tests.executors.support import MakeSpec

SOURCE_FILES = {"a.txt": "alpha\n", "b.txt": "beta\n", "src/main.sh": "echo main\n"}


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerClient]:
    """A client of the local Docker engine (skip locally, fail in CI, when none answers)."""
    client: DockerClient | None = None
    reason = ""
    # docker-py leaks the socket of a failed connect (transport/unixconn.py); collect it here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env()
            client.ping()
        except DockerException as exc:
            reason = f"no Docker engine answers ({root_cause(exc)}); run scripts/ensure-docker.sh"
        gc.collect()
    require(client is not None and not reason, reason)
    assert client is not None
    yield client
    client.close()


def _image(client: DockerClient, name: str) -> str:
    try:
        client.images.get(name)
    except ImageNotFound:
        require(False, f"image {name} is missing; run scripts/build-images.sh")
    return name


@pytest.fixture(scope="session")
def busybox_image(docker_engine: DockerClient) -> str:
    return _image(docker_engine, BUSYBOX_IMAGE)


@pytest.fixture(scope="session")
def python_image(docker_engine: DockerClient) -> str:
    return _image(docker_engine, DEBIAN_PYTHON_IMAGE)


@pytest.fixture
def executor(docker_engine: DockerClient) -> DockerExecutor:
    return DockerExecutor(docker_engine)


@pytest.fixture
def pipeline_id(docker_engine: DockerClient) -> Iterator[str]:
    """A fresh pipeline id; afterwards no container of it may be left, and its images go."""
    pipeline = f"test-{uuid.uuid4().hex[:12]}"
    yield pipeline
    leftovers = docker_engine.containers.list(
        all=True, filters={"label": f"{LABEL_PIPELINE}={pipeline}"}, ignore_removed=True
    )
    for container in leftovers:
        container.remove(force=True)
    DockerExecutor(docker_engine).release_pipeline(pipeline)
    assert not leftovers, f"containers left behind: {[c.id for c in leftovers]}"


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    """A small repository checkout (no .git needed)."""
    root = tmp_path / "source"
    for name, text in SOURCE_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def make_spec(tmp_path: Path, pipeline_id: str, busybox_image: str, source_dir: Path) -> MakeSpec:
    """``make_spec(command, **changes)``: a spec in this test's pipeline, busybox by default."""

    def make(command: str, **changes: Any) -> ExecSpec:
        execution_id = uuid.uuid4().hex
        spec = ExecSpec(
            pipeline_id=pipeline_id,
            node_path="/test",
            execution_id=execution_id,
            image=busybox_image,
            command=command,
            source_dir=source_dir,
            data_dir=tmp_path / "data",
            cache_dir=tmp_path / "cache",
            log_path=tmp_path / "logs" / f"{execution_id}.log",
            timeout_seconds=60,
        )
        return dataclasses.replace(spec, **changes)

    return make
