"""The bot's own image, built as the Dockerfile's offline path says (no registry here):
from the locally made Debian Python image, installing only from wheels made on the
host. A container of it answers ``/healthz``, reports healthy through the image's own
HEALTHCHECK, runs as a non-root user and reaches the Docker socket through its group.
Everything the test built is removed after."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from docker import DockerClient
from docker.errors import ContainerError
from docker.models.containers import Container

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.docker

SOURCES = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "ci_bot", "integrations")
SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
BUILD_SECONDS = 900  # a slow machine's pip install in the build, not a limit of the test


@pytest.fixture
def builder(docker_engine: DockerClient) -> Iterator[DockerClient]:
    """A client whose calls may wait through a whole build step."""
    client = docker.from_env(timeout=BUILD_SECONDS)
    yield client
    client.close()


def build_context(root: Path, base_image: str, client: DockerClient) -> Path:
    """The sources beside wheels of them and their dependencies, made on the host."""
    root.mkdir()
    for name in SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / name)
    pip_wheel(root / "wheels", f"{root}[scale]", "pip")
    fill_for_base(root / "wheels", base_image, client)
    return root


def pip_wheel(wheels: Path, *requirements: str) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels)]
    subprocess.run([*command, *requirements], check=True, timeout=BUILD_SECONDS)


def fill_for_base(wheels: Path, base_image: str, client: DockerClient) -> None:
    """pip chooses dependencies by environment markers of the Python it runs on; the
    base's may differ (Debian bookworm's 3.11.2 is older than the 3.11.3 below which
    redis wants async-timeout). Ask pip in the base, offline, what it lacks; add it."""
    script = (
        "python3 -m venv --without-pip /tmp/venv && set -- /wheels/pip-*.whl && "
        '/tmp/venv/bin/python "$1/pip" install --dry-run --quiet --no-index '
        "--find-links /wheels 'ci-bot[scale]'"
    )
    for _ in range(5):
        try:
            client.containers.run(
                base_image, ["sh", "-c", script], remove=True, network_disabled=True,
                volumes={str(wheels): {"bind": "/wheels", "mode": "ro"}},
            )  # fmt: skip
            return
        except ContainerError as error:
            text = (error.stderr or b"").decode()
            missing = re.findall(r"No matching distribution found for (\S+)", text)
            assert missing, f"pip in {base_image} failed:\n{text}"
            pip_wheel(wheels, *missing)
    pytest.fail("the wheels never sufficed for the base image's Python")


def wait_until(
    condition: Callable[[], bool], what: str, container: Container, seconds: float = 120
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        container.reload()
        if container.status == "exited":
            logs = container.logs().decode(errors="replace")
            pytest.fail(f"the container exited before {what}:\n{logs[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {seconds}s\n{container.logs().decode()[-3000:]}")


def health_of(container: Container) -> str:
    container.reload()
    return str(container.attrs["State"]["Health"]["Status"])


def healthz(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            assert json.loads(response.read()) == {"ok": True, "database": "ok"}
            return int(response.status)
    except (urllib.error.URLError, ConnectionError):
        return 0


def test_the_image_builds_offline_and_answers_healthz_as_a_non_root_user(
    tmp_path: Path, builder: DockerClient, python_image: str
) -> None:
    gid = os.stat(SOCKET).st_gid
    context = build_context(tmp_path / "context", python_image, builder)
    tag = f"ci-bot-test/self:{uuid.uuid4().hex[:10]}"
    arguments = {"BASE_IMAGE": python_image, "APT_PACKAGES": "", "DOCKER_GID": str(gid)}
    built: list[str] = []
    container: Container | None = None
    try:
        for target, name in (("build", f"{tag}-build"), ("", tag)):  # the stage is tagged
            builder.images.build(  # too, so removing it leaves nothing dangling
                path=str(context), tag=name, target=target or None, buildargs=arguments,
                rm=True, forcerm=True,
            )  # fmt: skip
            built.append(name)
        image = builder.images.get(tag)
        health = image.attrs["Config"]["Healthcheck"]
        assert any("/healthz" in part for part in health["Test"])

        container = builder.containers.run(
            tag, detach=True, ports={"8080/tcp": ("127.0.0.1", None)},
            environment={"CI_BOT_GITHUB_WEBHOOK_SECRET": "image-test-secret"},
            volumes={SOCKET: {"bind": SOCKET, "mode": "rw"}},
            healthcheck={**health, "interval": 1_000_000_000, "start_period": 0},
        )  # fmt: skip
        container.reload()
        port = container.ports["8080/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}/healthz"
        wait_until(lambda: healthz(url) == 200, "/healthz answered 200", container)
        wait_until(lambda: health_of(container) == "healthy", "its HEALTHCHECK passed", container)

        uid = container.exec_run(["id", "-u"]).output.decode().strip()
        assert uid != "0", "the bot runs as root"
        ping = "import docker; docker.from_env().ping()"
        reached = container.exec_run(["python", "-c", ping])
        assert reached.exit_code == 0, reached.output.decode()  # through the socket's group
    finally:
        if container is not None:
            container.remove(force=True)
        for name in reversed(built):
            builder.images.remove(name, force=True)
