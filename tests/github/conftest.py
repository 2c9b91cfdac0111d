"""Fixtures for the GitHub tests: the fake GitHub, an App key, and the bot wired to both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ci_bot.executors.base import Executor
from ci_bot.executors.fake import FakeExecutor
from ci_bot.reporting import ReporterHub
from ci_bot.services import Services, open_services
from ci_bot.settings import Settings
from ci_bot.store.store import Store
from ci_bot.web.app import create_app
from tests.fakes.github import FakeGitHub
from tests.github.support import APP_ID, PERSONAL_TOKEN, PUBLIC_URL, SECRET, post


@dataclass(frozen=True)
class AppKey:
    private_pem: str
    public_pem: str


@pytest.fixture(scope="session")
def app_key() -> AppKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return AppKey(private, public)


@pytest.fixture
def fake_github(fixtures_dir: Path, app_key: AppKey) -> Iterator[FakeGitHub]:
    """The fake GitHub API; the test fails if ci-bot sent it anything unexpected."""
    fake = FakeGitHub(
        fixtures_dir,
        personal_token=PERSONAL_TOKEN,
        app_id=APP_ID,
        app_public_key=app_key.public_pem,
    ).start()
    yield fake
    fake.stop()
    fake.assert_no_problems()


@dataclass
class Bot:
    """ci-bot as ``serve`` builds it, driven step by step by the test."""

    services: Services
    client: FlaskClient
    hub: ReporterHub

    def deliver(self, event: str, payload: Any, **options: Any) -> TestResponse:
        return post(self.client, event, payload, **options)

    def work(self) -> None:
        """Run the queued jobs (what the worker threads would do)."""
        self.services.queue.run_pending()

    def report(self) -> None:
        self.hub.step()

    @property
    def store(self) -> Store:
        return self.services.store


MakeBot = Callable[..., Bot]


@pytest.fixture
def make_bot(tmp_path: Path, app_key: AppKey) -> Iterator[MakeBot]:
    """``make_bot(fake, mode="app"|"token"|"none", executor=None, **settings)``."""
    made: list[Services] = []

    def make(
        fake: FakeGitHub | None = None,
        mode: str = "app",
        executor: Executor | None = None,
        **settings: Any,
    ) -> Bot:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "github_webhook_secret": SECRET,
            "public_url": PUBLIC_URL,
            "max_parallel": 2,
            "allow_local_clones": True,  # the tests' repositories are file:// URLs
        }
        if fake is not None:
            values["github_api_url"] = fake.url
        if mode == "app":
            key_file = tmp_path / "app-key.pem"
            key_file.write_text(app_key.private_pem)
            values |= {"github_app_id": APP_ID, "github_private_key_file": key_file}
        elif mode == "token":
            values["github_token"] = PERSONAL_TOKEN
        values |= settings
        services = open_services(
            Settings.from_env({}, **values), executor=executor or FakeExecutor()
        )
        made.append(services)
        return Bot(
            services,
            create_app(services).test_client(),
            ReporterHub(services.store, services.reporters),
        )

    yield make
    for services in made:
        services.stop()
        services.store.engine.dispose()
