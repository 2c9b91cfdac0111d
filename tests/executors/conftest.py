"""Fixtures for the executor tests: an executor, a pipeline id cleaned up after, specs.

The Docker engine and the base images (``docker_engine``, ``busybox_image``,
``python_image``) come from ``tests/conftest.py``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker import DockerClient

from ci_bot.executors.base import LABEL_PIPELINE, ExecSpec
from ci_bot.executors.docker import DockerExecutor
from tests.executors.support import MakeSpec

SOURCE_FILES = {"a.txt": "alpha\n", "b.txt": "beta\n", "src/main.sh": "echo main\n"}


@pytest.fixture
def executor(docker_engine: DockerClient, pipeline_id: str) -> Iterator[DockerExecutor]:
    """An executor; afterwards (before ``pipeline_id`` checks for containers left) its
    background removals are waited for."""
    executor = DockerExecutor(docker_engine)
    yield executor
    assert executor.wait_for_removals(60), "the executor's removals never finished"


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
    DockerExecutor(docker_engine).discard_pipeline(pipeline)
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
