"""Real image registries for the pull tests: Debian's ``docker-registry`` on loopback.

``public_registry`` takes anonymous pulls; ``private_registry`` wants basic auth
(an htpasswd file made with ``htpasswd -B``). The Docker engine talks plain HTTP
to registries on 127.0.0.0/8 without being told, so no TLS is needed. Each test
pushes images under names of its own (``push_image``), so the engine's copy of
one test's image never answers another's pull.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker import DockerClient
from docker.errors import ImageNotFound

from tests.conftest import require

USER, PASSWORD = "ci", "registry-test-password"


@dataclass(frozen=True)
class Registry:
    host: str  # "127.0.0.1:PORT"
    auth: tuple[str, str] | None = None

    def auth_file(self, directory: Path) -> Path:
        """Docker's config.json with this registry's credentials."""
        assert self.auth is not None
        token = base64.b64encode(":".join(self.auth).encode()).decode()
        path = directory / "registry-auth.json"
        path.write_text(json.dumps({"auths": {self.host: {"auth": token}}}))
        return path


PushImage = Callable[[Registry, str], str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(root: Path, htpasswd: Path | None) -> Iterator[Registry]:
    require(shutil.which("docker-registry") is not None, "docker-registry is not installed")
    port = _free_port()
    auth = f"auth:\n  htpasswd:\n    realm: ci-bot-test\n    path: {htpasswd}\n" if htpasswd else ""
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = (root / "registry.log").open("w")
    process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
    try:
        _wait_until_up(port, process)
        yield Registry(f"127.0.0.1:{port}", (USER, PASSWORD) if htpasswd else None)
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # 401 from the private one: it is up
        except OSError:
            time.sleep(0.05)
    pytest.fail("docker-registry did not answer within 10 s")


@pytest.fixture(scope="session")
def public_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    yield from _start(tmp_path_factory.mktemp("public-registry"), None)


@pytest.fixture(scope="session")
def private_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("private-registry")
    require(shutil.which("htpasswd") is not None, "htpasswd (apache2-utils) is not installed")
    htpasswd = root / "htpasswd"
    line = subprocess.run(
        ["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True
    ).stdout
    htpasswd.write_text(line)
    yield from _start(root, htpasswd)


@pytest.fixture
def push_image(docker_engine: DockerClient, busybox_image: str) -> Iterator[PushImage]:
    """``push_image(registry, "name:tag")``: busybox pushed there under a name unique to
    this test, then removed from the engine; returns the full name. Removed again after."""
    pushed: list[str] = []

    def push(registry: Registry, name: str) -> str:
        repository, _, tag = name.partition(":")
        full = f"{registry.host}/{repository}-{uuid.uuid4().hex[:8]}:{tag or 'latest'}"
        docker_engine.images.get(busybox_image).tag(full)
        auth = (
            {"username": registry.auth[0], "password": registry.auth[1]} if registry.auth else None
        )
        for event in docker_engine.api.push(full, stream=True, decode=True, auth_config=auth):
            assert "error" not in event, event
        docker_engine.images.remove(full)
        pushed.append(full)
        return full

    yield push
    for name in pushed:
        with contextlib.suppress(ImageNotFound):
            docker_engine.images.remove(name)
