"""The long-lived objects a process needs, made once from settings.

``open_services`` wires the store, the executor, the engine, the job queue and
the reporters that the settings ask for; ``ci-bot serve``, the CLI and the
tests all build the bot the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ci_bot.engine.runner import Engine
from ci_bot.executors.base import Executor
from ci_bot.queue import InProcessQueue
from ci_bot.reporting import Reporter, ReporterHub
from ci_bot.retention import RetentionWorker
from ci_bot.secrets.source import SecretSource
from ci_bot.secrets.store import SecretStore
from ci_bot.settings import Settings
from ci_bot.store.store import Store


class Background(Protocol):
    """A thread of its own that ``serve`` starts and stops (the cron trigger)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass
class Services:
    settings: Settings
    store: Store
    executor: Executor
    engine: Engine
    queue: InProcessQueue = field(default_factory=InProcessQueue)
    reporters: list[Reporter] = field(default_factory=list)
    hub: ReporterHub | None = None
    background: list[Background] = field(default_factory=list)  # e.g. the cron trigger

    @property
    def secrets(self) -> SecretSource:
        """Where the engine's secrets come from; what the UI masks."""
        return self.engine.secrets

    def start(self) -> None:
        """Start the background work of ``ci-bot serve``: engine, jobs, reporters."""
        self.engine.start()
        self.queue.start()
        from ci_bot.github.dispatch import resubmit_unhandled

        resubmit_unhandled(self)  # deliveries stored before a restart but never handled
        self.hub = ReporterHub(self.store, self.reporters)
        self.hub.start()
        for worker in self.background:
            worker.start()

    def stop(self) -> None:
        for worker in self.background:
            worker.stop()
        self.queue.stop()
        self.engine.stop()
        if self.hub is not None:
            self.hub.stop()


def open_services(settings: Settings, executor: Executor | None = None) -> Services:
    store = Store(settings.database_url)
    if executor is None and settings.broker_url:
        from ci_bot.workers.remote import CeleryExecutor

        executor = CeleryExecutor(settings, store)  # serve starts no container itself
    if executor is None:
        from ci_bot.executors.docker import DockerExecutor
        from ci_bot.executors.registry import load_registry_auth

        executor = DockerExecutor(
            base_url=settings.docker_url,
            allow_docker_socket=settings.allow_docker_socket,
            registry_auth=load_registry_auth(settings.registry_auth_file),
        )
    secrets = SecretStore(store, settings)
    engine = Engine(store, executor, settings, secrets=secrets)
    services = Services(settings=settings, store=store, executor=executor, engine=engine)
    services.background.append(RetentionWorker(store, settings))
    if settings.slack_token:
        from integrations.slack.reporter import SlackReporter

        services.reporters.append(SlackReporter.from_settings(settings, store, secrets))
    from ci_bot.github.dispatch import attach_github

    attach_github(services)  # the webhook job; the check-run reporter when an App/token is set
    return services
