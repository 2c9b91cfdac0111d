"""deploy/compose.yaml passes Compose's own validation (``docker compose config``, or
Debian's ``docker-compose config``: ``scripts/ensure-compose.sh`` installs it), and
says what docs/deploy.md promises: serve, two workers, Redis and PostgreSQL; each
worker with a data dir of its own at the same path as on the host, the Docker socket
and its group; nothing starts without its passwords."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, require

COMPOSE_FILE = REPO_ROOT / "deploy" / "compose.yaml"
REQUIRED = {
    "POSTGRES_PASSWORD": "postgres-password-1",
    "REDIS_PASSWORD": "redis-password-1",
    "CI_BOT_PUBLIC_URL": "https://ci.example.com",
    "CI_BOT_GITHUB_WEBHOOK_SECRET": "webhook-secret-1",
    "CI_BOT_SECRET_KEY": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=",  # workers need it too
}


def compose_command() -> list[str]:
    """``docker compose`` when the plugin answers, else ``docker-compose``."""
    if shutil.which("docker"):
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    require(False, "neither docker compose nor docker-compose: run scripts/ensure-compose.sh")
    raise AssertionError  # not reached: require skipped or failed


@pytest.fixture(scope="module")
def compose() -> list[str]:
    return compose_command()


def config(compose: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``config`` with exactly ``env`` (an empty env file: a developer's deploy/.env and
    shell variables stay out of it)."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    command = [*compose, "--env-file", str(empty), "-f", str(COMPOSE_FILE), "config"]
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    return subprocess.run(command, env={**base, **env}, capture_output=True, text=True, timeout=60)


def test_the_compose_file_validates_with_its_settings(compose: list[str], tmp_path: Path) -> None:
    result = config(compose, tmp_path, **REQUIRED, DOCKER_GID="105")
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"serve", "worker-1", "worker-2", "redis", "postgres"}

    shared = {"CI_BOT_DATABASE_URL", "CI_BOT_BROKER_URL", "CI_BOT_VISIBILITY_TIMEOUT"}
    data_dirs = set()
    for name in ("worker-1", "worker-2"):
        worker = services[name]
        environment = worker["environment"]
        assert shared <= set(environment)
        assert worker["command"][0] == "worker"
        assert [str(group) for group in worker["group_add"]] == ["105"]
        mounts = {_target(volume): _source(volume) for volume in worker["volumes"]}
        data_dir = environment["CI_BOT_DATA_DIR"]
        assert mounts[data_dir] == data_dir  # the same path on the host and inside
        assert mounts["/var/run/docker.sock"] == "/var/run/docker.sock"
        data_dirs.add(data_dir)
    assert len(data_dirs) == 2, "each worker needs a data dir of its own"

    serve = services["serve"]
    assert shared <= set(serve["environment"])
    assert "/var/run/docker.sock" not in {_target(v) for v in serve["volumes"]}
    assert serve["environment"]["CI_BOT_BROKER_URL"] == "redis://:redis-password-1@redis:6379/0"


def test_nothing_starts_without_its_passwords(compose: list[str], tmp_path: Path) -> None:
    missing = {name: value for name, value in REQUIRED.items() if name != "POSTGRES_PASSWORD"}
    result = config(compose, tmp_path, **missing)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in deploy/.env" in result.stderr


def _source(volume: str | dict[str, Any]) -> str:
    return str(volume["source"] if isinstance(volume, dict) else volume.split(":")[0])


def _target(volume: str | dict[str, Any]) -> str:
    return str(volume["target"] if isinstance(volume, dict) else volume.split(":")[1])
