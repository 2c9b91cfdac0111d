"""Fixtures shared by every test.

Tests that need something this machine may lack (a Docker engine, the shared
fixtures folder) skip with a reason on a developer's machine, and fail under
``CI=true``: in CI a missing engine is a broken setup, not a reason to pass.
"""

from __future__ import annotations

import contextlib
import gc
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker import DockerClient
from docker.errors import APIError, DockerException, ImageNotFound

from ci_bot.executors.images import BUSYBOX_IMAGE, DEBIAN_PYTHON_IMAGE
from ci_bot.executors.outcomes import root_cause
from ci_bot.executors.workspace import LABEL_SOURCE

REPO_ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.gitrepos", "tests.registries"]

# Read once, before ``clean_environ`` empties CI_BOT_* for each test (this name is
# not a setting of the bot's, so it is kept apart from them).
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, or fail under CI=true."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CI_BOT_* setting from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("CI_BOT_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """GitHub's and Slack's official examples and schemas (never copied into the repo)."""
    override = os.environ.get("CI_BOT_FIXTURES_DIR")
    path = Path(override) if override else REPO_ROOT.parent / "shared" / "fixtures"
    require(path.is_dir(), f"fixtures folder {path} is absent (set CI_BOT_FIXTURES_DIR)")
    return path


# --- a real Docker engine and ci-bot's base images ----------------------------------------
# Without an engine (or without the images) these skip on a developer's machine and
# fail under CI=true; ``scripts/ensure-docker.sh`` and ``scripts/build-images.sh``
# provide both.


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


@pytest.fixture(autouse=True)
def no_workspace_images_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """Workspace images stay until their pipeline is archived; a test's go when it ends:
    those of checkouts in its tmp_path (so another run's, on the same engine, stay).
    Also for a Docker test that runs ``ci-bot`` in a process of its own and never asks
    for the engine itself."""
    uses_docker = request.node.get_closest_marker("docker") is not None
    if "docker_engine" not in request.fixturenames and not uses_docker:
        yield
        return
    client: DockerClient = request.getfixturevalue("docker_engine")
    tmp_path: Path = request.getfixturevalue("tmp_path")
    yield
    # The low-level list: the SDK's inspects each image it lists, and one removed meanwhile
    # (by another test run on the same engine) would fail this test for nothing.
    for image in client.api.images(filters={"label": LABEL_SOURCE}):
        labels = image.get("Labels") or {}
        if Path(labels.get(LABEL_SOURCE, "/")).is_relative_to(tmp_path):
            tags = [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]
            for name in tags or [str(image["Id"])]:
                # gone already, or a leaked container holds it (the leak checks report it)
                with contextlib.suppress(APIError):
                    client.images.remove(name, force=True)


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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store's database: a SQLite file, and a real PostgreSQL (``make postgres``)
    emptied for each test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/db.sqlite"
    require(bool(POSTGRES_URL), "no PostgreSQL: set TEST_POSTGRES_URL (make postgres does)")
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    except Exception as error:  # an unreachable server is a broken setup, not a pass
        require(False, f"PostgreSQL at TEST_POSTGRES_URL is not usable: {error}")
    finally:
        engine.dispose()
    return POSTGRES_URL
