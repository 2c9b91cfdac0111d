"""The long-lived objects a process needs, made once from settings.

``open_services`` wires the store, the executor, the engine, the job queue and
the reporters that the settings ask for; ``ci-bot serve``, the CLI commands that
drive pipelines and the tests all build the bot the same way.

``open_driving_services`` is what ``ci-bot run`` and ``resume`` need: the engine, and
the GitHub wiring only when an App or token lets ``release`` nodes publish (the
reporters, jobs and background threads are ``serve``'s and never start there).
``open_store_services`` is the part a short command needs: the store at once, the
executor and the engine only when first used.  ``ci-bot cancel`` of a pipeline a
live engine drives never loads Docker's client or the engine's modules (they cost a
command line tool more than its own work); the executor is made then as
``open_services`` makes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ci_bot.queue import InProcessQueue
from ci_bot.settings import Settings

if TYPE_CHECKING:
    from ci_bot.engine.runner import Engine
    from ci_bot.executors.base import Executor
    from ci_bot.reporting import Reporter, ReporterHub
    from ci_bot.secrets.source import SecretSource
    from ci_bot.secrets.store import SecretStore
    from ci_bot.store.store import Store


class Background(Protocol):
    """A thread of its own that ``serve`` starts and stops (the cron trigger)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


class Services:
    """The bot's parts; the executor (unless given), the secrets and the engine are made
    on first use."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        executor: Executor | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self._executor = executor
        self._secret_store: SecretStore | None = None
        self._engine: Engine | None = None
        self.queue = InProcessQueue()
        self.reporters: list[Reporter] = []
        self.hub: ReporterHub | None = None
        self.background: list[Background] = []  # e.g. the cron trigger

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = make_executor(self.settings, self.store)
        return self._executor

    @property
    def secret_store(self) -> SecretStore:
        """The sealed secrets in the store, one instance for the engine and reporters."""
        if self._secret_store is None:
            from ci_bot.secrets.store import SecretStore

            self._secret_store = SecretStore(self.store, self.settings)
        return self._secret_store

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from ci_bot.engine.runner import Engine

            secrets = self.secret_store
            self._engine = Engine(self.store, self.executor, self.settings, secrets=secrets)
        return self._engine

    @property
    def secrets(self) -> SecretSource:
        """Where the engine's secrets come from; what the UI masks."""
        return self.engine.secrets

    def start(self) -> None:
        """Start the background work of ``ci-bot serve``: engine, jobs, reporters."""
        from ci_bot.github.dispatch import resubmit_unhandled
        from ci_bot.reporting import ReporterHub

        self.engine.start()
        self.queue.start()
        resubmit_unhandled(self)  # deliveries stored before a restart but never handled
        self.hub = ReporterHub(self.store, self.reporters)
        self.hub.start()
        for worker in self.background:
            worker.start()

    def stop(self) -> None:
        for worker in self.background:
            worker.stop()
        self.queue.stop()
        if self._engine is not None:  # never made: nothing runs
            self._engine.stop()
        if self.hub is not None:
            self.hub.stop()


def make_executor(settings: Settings, store: Store) -> Executor:
    """The executor the settings ask for: Celery workers over a broker, else Docker here."""
    if settings.broker_url:
        from ci_bot.workers.remote import CeleryExecutor

        return CeleryExecutor(settings, store)  # serve starts no container itself
    from ci_bot.executors.deferred import DeferredExecutor

    # Docker's client is loaded on the first call that needs it: a fully reused pipeline
    # starts no container and never needs it.
    return DeferredExecutor(lambda: docker_executor(settings), docker_url=settings.docker_url)


def docker_executor(settings: Settings) -> Executor:
    """Containers on the Docker engine the settings name, made now."""
    from ci_bot.executors.docker import DockerExecutor
    from ci_bot.executors.registry import load_registry_auth

    return DockerExecutor(
        base_url=settings.docker_url,
        allow_docker_socket=settings.allow_docker_socket,
        registry_auth=load_registry_auth(settings.registry_auth_file),
    )


def open_store_services(settings: Settings, executor: Executor | None = None) -> Services:
    """The store, opened now; the executor and the engine when a caller first uses them.
    No reporters, jobs or background threads: what a short command needs."""
    from ci_bot.store.store import Store

    return Services(settings, Store(settings.database_url), executor)


def github_configured(settings: Settings) -> bool:
    """Whether a GitHub App or token is set (``integrations.github.auth.token_source``
    says the same, but loading it costs what this spares)."""
    app = bool(settings.github_app_id and settings.github_private_key_file)
    return app or bool(settings.github_token)


def open_driving_services(settings: Settings) -> Services:
    """The store and (on first use) the engine; with a GitHub App or token, the GitHub
    wiring too, through which the engine publishes ``release`` nodes."""
    if github_configured(settings):
        return open_services(settings)
    return open_store_services(settings)


def open_services(settings: Settings, executor: Executor | None = None) -> Services:
    """Everything, wired: the engine with its secrets and release publisher, the
    GitHub and Slack jobs and reporters, the retention worker."""
    from ci_bot.github.dispatch import attach_github
    from ci_bot.retention import RetentionWorker

    services = open_store_services(settings, executor)
    # The executor is made when the worker first archives (serve makes it anyway).
    services.background.append(RetentionWorker(services.store, settings, lambda: services.executor))
    if settings.slack_token:
        from integrations.slack.reporter import SlackReporter

        secrets = services.secret_store
        services.reporters.append(SlackReporter.from_settings(settings, services.store, secrets))
    attach_github(services)  # the webhook job; the check-run reporter when an App/token is set
    return services
