"""The scaled-out bot for real: a redis-server of its own, a PostgreSQL database of its
own, and ``ci-bot worker`` processes, each with a separate data dir."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, require
from tests.containers import ci_bot_command

VISIBILITY_SECONDS = 8  # a killed worker's task goes to another worker after this
SECRET_KEY = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="  # a Fernet key (32 bytes, base64)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def broker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One redis-server for the session: Celery's app, like a server process, keeps its
    broker and result connections once made (each test purges the queues first)."""
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    tmp_path = tmp_path_factory.mktemp("redis")
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


@pytest.fixture
def database_url() -> Iterator[str]:
    """A database of its own on the tests' PostgreSQL, dropped after."""
    require(bool(POSTGRES_URL), "no PostgreSQL: set TEST_POSTGRES_URL (make postgres does)")
    name = f"ci_bot_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@dataclass
class Workers:
    """``ci-bot worker`` processes on this machine, each with its own data dir."""

    root: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)

    def start(self, name: str, *, labels: str = "", concurrency: int = 2) -> None:
        data = self.root / name
        data.mkdir(parents=True, exist_ok=True)
        log = self.logs[name] = (self.root / f"{name}.log").open("wb")
        command = [*ci_bot_command(), "worker", "--name", name, "--concurrency", str(concurrency)]
        if labels:
            command += ["--labels", labels]
        self.processes[name] = subprocess.Popen(
            command, env={**self.env, "CI_BOT_DATA_DIR": str(data)}, stdout=log, stderr=log
        )

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(30)

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(20)
        for log in self.logs.values():
            log.close()


@pytest.fixture
def scaled_env(broker_url: str, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env.update(
        CI_BOT_BROKER_URL=broker_url,
        CI_BOT_DATABASE_URL=database_url,
        CI_BOT_VISIBILITY_TIMEOUT=str(VISIBILITY_SECONDS),
        CI_BOT_SECRET_KEY=SECRET_KEY,  # servers and workers open the same sealed secrets
        CI_BOT_WORKER_LOG_LEVEL="INFO",
    )
    return env


@pytest.fixture
def workers(tmp_path: Path, scaled_env: dict[str, str]) -> Iterator[Workers]:
    running = Workers(tmp_path / "workers", scaled_env)
    yield running
    running.stop_all()


def wait_until(condition: Callable[[], object], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {seconds}s")
