"""The long-lived objects a process needs, made once from settings: store, executor, engine."""

from __future__ import annotations

from dataclasses import dataclass

from ci_bot.engine.runner import Engine
from ci_bot.executors.base import Executor
from ci_bot.secrets import load_secrets
from ci_bot.settings import Settings
from ci_bot.store.store import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    executor: Executor
    engine: Engine


def open_services(settings: Settings, executor: Executor | None = None) -> Services:
    if executor is None:
        from ci_bot.executors.docker import DockerExecutor

        executor = DockerExecutor(
            base_url=settings.docker_url, allow_docker_socket=settings.allow_docker_socket
        )
    store = Store(settings.database_url)
    engine = Engine(store, executor, settings, secrets=load_secrets(settings.secrets_file))
    return Services(settings=settings, store=store, executor=executor, engine=engine)
