"""Fixtures of the engine's real-container tests: ``make_bot`` and ``bot``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from docker import DockerClient

from ci_bot.executors.base import Executor
from ci_bot.executors.docker import DockerExecutor
from ci_bot.services import open_services
from ci_bot.settings import Settings
from tests.containers import remove_leftovers
from tests.engine.bots import Bot


@pytest.fixture
def make_bot(
    tmp_path: Path, docker_engine: DockerClient, busybox_image: str
) -> Iterator[Callable[..., Bot]]:
    """``make_bot(max_parallel=4, executor=None, secrets=None, **settings)``; containers
    checked after."""
    bots: list[Bot] = []

    def make(
        *,
        max_parallel: int = 4,
        executor: Executor | None = None,
        secrets: Mapping[str, str] | None = None,
        **settings_overrides: Any,
    ) -> Bot:
        root = tmp_path / f"bot{len(bots)}"
        settings = Settings.from_env(
            {}, data_dir=root / "data", max_parallel=max_parallel, **settings_overrides
        )
        settings.data_dir.mkdir(parents=True)
        lines = "".join(f"{name}={value}\n" for name, value in (secrets or {}).items())
        settings.secrets_file.write_text(lines)
        services = open_services(settings, executor or DockerExecutor(docker_engine))
        bot = Bot(services, docker_engine, root)
        bots.append(bot)
        return bot

    yield make
    leftovers: list[str] = []
    for bot in bots:
        pipeline_ids = [p.id for p in bot.store.pipelines()]
        leftovers += remove_leftovers(docker_engine, pipeline_ids, bot.settings.data_dir)
        bot.store.engine.dispose()
    assert not leftovers, f"containers left behind: {leftovers}"


@pytest.fixture
def bot(make_bot: Callable[..., Bot]) -> Bot:
    return make_bot()
