"""One trust decision, applied everywhere: a fork's pull request (approved or not) gets no
Docker socket, no secrets, no signing, no gate and never the trusted pipelines' $CI_CACHE,
even where the bot allows the owner's pipelines each of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.engine import control
from ci_bot.engine.launch import launch
from ci_bot.engine.trust import FORK, OWNER, privileges_of
from ci_bot.executors.docker import DockerExecutor
from ci_bot.git import local_snapshot
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from tests.engine.bots import Bot, config, logs_of

FORK_PR = Event("pr", branch="feature", base_branch="main", pr="7", repo="app")
OWNER_PUSH = Event("push", branch="main", repo="app")

TREE = "[pr]\n" + config(
    """
    [pipeline.main.cache]
    run = '''
    ls "$CI_CACHE"
    cat "$CI_CACHE/release.txt" 2>/dev/null || echo no-release
    echo "$CI_EVENT" > "$CI_CACHE/$CI_EVENT.txt"
    '''
    [pipeline.main.socket]
    run = "test -S /var/run/docker.sock && echo has-socket"
    requires_docker = true
    when = "{event} == pr"
    [pipeline.main.secret]
    run = "echo token=$DEPLOY_TOKEN"
    secrets = ["DEPLOY_TOKEN"]
    when = "{event} == pr"
    [pipeline.main.sign]
    run = 'echo artifact > "$CI_DATA/app.bin"'
    sign = ["app.bin"]
    when = "{event} == pr"
    [pipeline.main.gate]
    run = "echo released"
    skip = true
    """,
    root="stop_on_error = false",
)


def launch_as(bot: Bot, repo: Path, event: Event, *, trusted: bool) -> int:
    source = bot.settings.data_dir / "sources" / uuid.uuid4().hex
    local_snapshot(repo, source)
    executor = bot.services.executor
    return launch(bot.store, bot.settings, executor, source, event, None, trusted=trusted)


@pytest.fixture
def socket_bot(make_bot: Callable[..., Bot], docker_engine: DockerClient) -> Bot:
    """A bot whose operator allows the Docker socket and holds a deploy token."""
    executor = DockerExecutor(docker_engine, allow_docker_socket=True)
    return make_bot(
        executor=executor, allow_docker_socket=True, secrets={"DEPLOY_TOKEN": "deploy-7d1e"}
    )


@pytest.mark.docker
def test_a_forks_pipeline_gets_no_privilege_of_the_owners(socket_bot: Bot) -> None:
    bot = socket_bot
    repo = bot.repo(TREE)
    owner = launch_as(bot, repo, OWNER_PUSH, trusted=True)
    (bot.settings.data_dir / "cache" / "app").mkdir(parents=True, exist_ok=True)
    (bot.settings.data_dir / "cache" / "app" / "release.txt").write_text("trusted-release\n")
    assert bot.run(owner).state is State.DONE

    fork = launch_as(bot, repo, FORK_PR, trusted=False)
    bot.run(fork)

    states = bot.states(fork)
    assert states["/cache"] is State.DONE
    cache_log = logs_of(bot, fork, "/cache")
    assert "no-release" in cache_log and "trusted-release" not in cache_log
    assert "push.txt" not in cache_log
    assert not (bot.settings.data_dir / "cache" / "app" / "pr.txt").exists()  # nothing planted
    assert states["/socket"] is State.ERROR
    assert bot.only(fork, "/socket").message == (
        "this node sets requires_docker, and the Docker socket is never given to pull "
        "requests from forks"
    )
    assert states["/secret"] is State.ERROR
    assert (
        "secrets are never given to pull requests from forks" in bot.only(fork, "/secret").message
    )
    assert states["/sign"] is State.DONE
    assert "not signed: a fork's pipeline never uses the bot's signing key" in logs_of(
        bot, fork, "/sign"
    )
    assert not (bot.data(fork) / "app.bin.sig").exists()
    assert control.unskip_refusal(bot.store, fork, "/gate") == (
        "a fork's pipeline never passes a gate: start an owner's pipeline to release"
    )
    assert control.unskip_refusal(bot.store, owner, "/gate") is None


def test_the_decision_is_the_pipelines_trusted_flag(socket_bot: Bot) -> None:
    repo = socket_bot.repo(TREE)
    owner = launch_as(socket_bot, repo, OWNER_PUSH, trusted=True)
    fork = launch_as(socket_bot, repo, FORK_PR, trusted=False)
    assert privileges_of(socket_bot.store.pipeline(owner)) == OWNER
    assert privileges_of(socket_bot.store.pipeline(fork)) == FORK
    assert not any(
        getattr(FORK, name) for name in ("secrets", "docker_socket", "registry_credentials")
    )
