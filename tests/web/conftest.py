"""Fixtures for the web UI's tests: a bot with its app, signed-in clients, a served
bot running real pipelines in Docker, and Debian's Chromium driven by Playwright.

``bot`` keeps everything in-process (a FakeExecutor that runs nothing: tests
write the store's state themselves).  ``live_bot`` is the real thing: the engine
driving DockerExecutor in its thread, the app on a real HTTP server thread.
Chromium is Debian's (``scripts/ensure-chromium.sh``); without it the browser
tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import random
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from docker import DockerClient
from docker.errors import APIError, NotFound
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from ci_bot.engine.context import log_dir
from ci_bot.engine.launch import launch_local
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.fake import FakeExecutor
from ci_bot.services import Services, open_services
from ci_bot.settings import Settings
from ci_bot.store.records import Execution
from ci_bot.store.store import Store, utcnow
from ci_bot.store.tables import PipelineRow
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from ci_bot.web.app import create_app
from tests.conftest import REPO_ROOT, require
from tests.gitrepos import Files, make_repo

TOKEN = "ui-test-token-0123456789abcdef"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"


@dataclass
class Bot:
    services: Services
    app: Flask
    root: Path
    url: str = ""
    launched: list[int] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.services.store

    def repo(self, files: Files, message: str = "Fix the cart total", name: str = "app") -> Path:
        """A git repository with ``files`` committed (its commit is what the pipeline shows)."""
        path = self.root / "repos" / name
        make_repo(path, files, message)
        return path

    def launch(self, repo: Path, event: Event) -> int:
        settings, executor = self.services.settings, self.services.executor
        with ids_from_random_offset(self.store, first=not self.launched):
            pipeline_id = launch_local(self.store, settings, executor, repo, event)
        self.launched.append(pipeline_id)
        self.services.engine.wake()
        return pipeline_id

    def container_ids(self) -> list[str]:
        """Every container this bot's executions ran in."""
        return [
            execution.container_id
            for pipeline_id in self.launched
            for execution in self.store.executions(pipeline_id)
            if execution.container_id
        ]

    def wait_settled(self, pipeline_id: int, timeout: float = 90.0) -> str:
        wait_for(lambda: self.store.pipeline(pipeline_id).finished_at, "the pipeline", timeout)
        return self.store.pipeline(pipeline_id).state.value


@contextmanager
def ids_from_random_offset(store: Store, *, first: bool) -> Iterator[None]:
    """Make the first pipeline's id random and large.  Containers are labelled with
    their pipeline's id, and other test suites on the same Docker engine (whose ids
    start at 1) clean up by that label: shared ids would let them kill ours."""
    if not first:
        yield
        return
    placeholder = random.randrange(1_000, 10_000)
    with Session(store.engine) as session, session.begin():
        session.add(
            PipelineRow(
                id=placeholder,
                repo="",
                event="",
                tree_json="{}",
                state="done",
                created_at=utcnow(),
                finished_at=utcnow(),  # so no engine takes it up
            )
        )
    try:
        yield  # SQLite gives the next row the largest id + 1
    finally:
        with Session(store.engine) as session, session.begin():
            session.execute(delete(PipelineRow).where(PipelineRow.id == placeholder))


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def make_bot(root: Path, executor: Any, **overrides: Any) -> Bot:
    settings = Settings.from_env({}, data_dir=root / "data", ui_tokens=(TOKEN,), **overrides)
    services = open_services(settings, executor)
    return Bot(services, create_app(services), root)


def sign_in(client: FlaskClient, token: str = TOKEN, next_path: str = "/pipelines") -> Any:
    """Sign ``client`` in through the form, as a person would; the answer to the POST."""
    form = client.get(f"/sign-in?next={next_path}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf, "the sign-in form has no CSRF token"
    return client.post(
        "/sign-in", data={"csrf_token": csrf.group(1), "token": token, "next": next_path}
    )


def csrf_of(client: FlaskClient) -> str:
    """The session's CSRF token, as the pages carry it."""
    page = client.get("/pipelines").get_data(as_text=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]*)"', page)
    assert found and found.group(1), "the page carries no CSRF token"
    return found.group(1)


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    """A bot whose executor runs nothing: tests set the store's state themselves."""
    made = make_bot(tmp_path, FakeExecutor())
    yield made
    made.store.engine.dispose()


@pytest.fixture
def client(bot: Bot) -> FlaskClient:
    """A test client signed in with a token."""
    test_client = bot.app.test_client()
    assert sign_in(test_client).status_code == 302
    return test_client


@pytest.fixture
def live_bot(tmp_path: Path, docker_engine: DockerClient, busybox_image: str) -> Iterator[Bot]:
    """A bot running real pipelines in Docker, its app served on 127.0.0.1."""
    made = make_bot(tmp_path, DockerExecutor(docker_engine), max_parallel=4)
    with running(made, docker_engine):
        yield made


@contextmanager
def running(made: Bot, docker_engine: DockerClient) -> Iterator[None]:
    """``made`` started and served for the block; then stopped, nothing left running."""
    made.services.start()
    with served(made):
        yield
        _finish_pipelines(made)
    made.services.stop()
    leftovers = remove_containers(docker_engine, made.container_ids())
    for pipeline_id in made.launched:
        DockerExecutor(docker_engine).release_pipeline(str(pipeline_id))
    made.store.engine.dispose()
    assert not leftovers, f"containers left behind: {leftovers}"


@pytest.fixture
def shown_bot(bot: Bot) -> Iterator[Bot]:
    """The ``bot`` fixture's app (no engine: the store holds what tests wrote) on 127.0.0.1."""
    with served(bot):
        yield bot


@contextmanager
def served(made: Bot) -> Iterator[None]:
    """The bot's app on a real HTTP server thread for as long as the block runs."""
    server = make_server("127.0.0.1", 0, made.app, threaded=True)
    made.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="ui-test-server", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def remove_containers(client: DockerClient, container_ids: list[str]) -> list[str]:
    """Remove those of ``container_ids`` still there; the ones that were."""
    left = []
    for container_id in container_ids:
        try:
            client.containers.get(container_id).remove(force=True)
        except NotFound:
            continue
        except APIError as error:  # the executor was removing it already: as good as gone
            if error.status_code == 409 and "already in progress" in str(error):
                continue
            raise
        left.append(container_id[:12])
    return left


def _finish_pipelines(made: Bot) -> None:
    for pipeline_id in made.launched:  # nothing may run on once the test is over
        if made.store.pipeline(pipeline_id).finished_at is None:
            made.store.cancel(pipeline_id, actor="test teardown")
    for pipeline_id in made.launched:
        made.wait_settled(pipeline_id, timeout=60)
    # Settled is the store's word; the engine may still be removing a killed container.
    engine = made.services.engine
    wait_for(lambda: not any(engine.busy(p) for p in made.launched), "the engine's threads", 60)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never its own browser download)."""
    require(
        CHROMIUM.exists() and shutil.which(str(CHROMIUM)) is not None,
        f"{CHROMIUM} is missing; run scripts/ensure-chromium.sh (make chromium)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live_bot: Bot) -> Iterator[Any]:
    """A fresh browser page (1280 px wide) on the live bot, not yet signed in."""
    yield from open_page(browser, live_bot)


@pytest.fixture
def still_page(browser: Any, shown_bot: Bot) -> Iterator[Any]:
    """A fresh browser page on the engine-less ``shown_bot``, not yet signed in."""
    yield from open_page(browser, shown_bot)


def open_page(browser: Any, made: Bot) -> Iterator[Any]:
    """A fresh 1280 px browser page on ``made``'s served app; its JavaScript must not fail."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=made.url)
    context.set_default_timeout(30_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page's JavaScript failed: {errors}"


def screenshot(page: Any, name: str) -> Path:
    """Save what the page shows to artifacts/screenshots/NAME.png (a person checks them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def record_run(
    bot: Bot,
    pipeline_id: int,
    path: str,
    lines: list[str],
    *,
    state: State = State.DONE,
    message: str = "",
    finish: bool = True,
) -> Execution:
    """Write one execution of ``path`` into the store, its log holding ``lines``, as the
    engine would (the ``bot`` fixture's executor runs nothing)."""
    execution = bot.store.queue(pipeline_id, path, str(log_dir(bot.services.settings, pipeline_id)))
    log = Path(execution.log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"2026-01-02T03:04:05.678Z {line}\n" for line in lines))
    bot.store.mark_running(execution.id, f"container-{execution.id}")
    if finish:
        exit_code = 0 if state is State.DONE else 3
        bot.store.finish(execution.id, state, exit_code=exit_code, message=message)
    return bot.store.execution(execution.id)
