"""``/workspace/.git`` in real containers: ``git log`` works, ``git_depth`` is honoured,
every node still starts from a pristine copy, and the history costs one workspace build
per pipeline and image however many nodes there are (written then, not at launch) — and
it is kept until the pipeline is archived, so a reset node starts without a build."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from ci_bot.engine import launch_facts
from ci_bot.executors.base import LABEL_BOT, LABEL_EXECUTION, LABEL_PIPELINE
from ci_bot.executors.workspace import LABEL_BASE_IMAGE
from ci_bot.retention import archive_old, sweep_workspaces
from ci_bot.store.store import utcnow
from ci_bot.tree.states import State
from tests.engine.bots import Bot, config, log
from tests.gitrepos import commit_files, head_sha, make_repo

pytestmark = pytest.mark.docker


def history_repo(bot: Bot, cfg: str) -> Path:
    """A git work tree whose root is the repository: three commits, the config in each."""
    path = bot.root / "repos" / "app"
    make_repo(path, {"conducto.cfg": cfg, "README.md": "one\n"}, "first")
    commit_files(path, {"README.md": "two\n"}, "second")
    commit_files(path, {"README.md": "three\n"}, "third")
    return path


def workspace_builds(bot: Bot, pipeline_id: int, since: float) -> int:
    """How many workspace images the bot built for the pipeline since ``since``: the
    containers it created to build them.  Node containers inherit the image's labels but
    carry an execution's; the engine ORs label filters, so the rest is matched here."""
    events = bot.docker.events(  # type: ignore[call-overload]
        since=since,
        until=time.time() + 0.2,
        decode=True,
        filters={"type": "container", "event": "create", "label": LABEL_BASE_IMAGE},
    )
    ours = {LABEL_PIPELINE: str(pipeline_id), LABEL_BOT: bot.services.engine.bot_id}
    return sum(
        1
        for event in events
        if all(event["Actor"]["Attributes"].get(k) == v for k, v in ours.items())
        and LABEL_EXECUTION not in event["Actor"]["Attributes"]
    )


def test_git_log_works_inside_a_node(make_bot: Callable[..., Bot], python_image: str) -> None:
    bot = make_bot()
    body = """
    [pipeline.main.history]
    run = "git log --format=%s && git rev-parse HEAD && git status --porcelain && echo clean"
    """
    repo = history_repo(bot, config(body, image=python_image))
    pipeline_id = bot.launch(repo)
    facts = launch_facts.facts_dir(Path(bot.store.pipeline(pipeline_id).source_dir))
    assert list(facts.glob("git-*/")) == [], "launching only promises the .git"
    assert bot.run(pipeline_id).state is State.DONE
    assert log(bot.only(pipeline_id, "/history"))[:5] == [
        "third",
        "second",
        "first",
        head_sha(repo),
        "clean",  # the index matches /workspace: nothing modified, nothing untracked
    ]


def test_git_depth_limits_the_history(make_bot: Callable[..., Bot], python_image: str) -> None:
    bot = make_bot()
    body = """
    [pipeline.main.shallow]
    git_depth = 2
    run = "git rev-list --count HEAD && git rev-parse --is-shallow-repository"
    [pipeline.main.full]
    git_depth = 0
    run = "git rev-list --count HEAD && git rev-parse --is-shallow-repository"
    """
    pipeline_id = bot.launch(history_repo(bot, config(body, image=python_image)))
    assert bot.run(pipeline_id).state is State.DONE
    assert log(bot.only(pipeline_id, "/shallow"))[:2] == ["2", "true"]
    assert log(bot.only(pipeline_id, "/full"))[:2] == ["3", "false"]


def test_every_node_gets_a_pristine_history_from_one_build(
    make_bot: Callable[..., Bot], python_image: str
) -> None:
    bot = make_bot()
    check = 'run = "git log -1 --format=%s && test -z \\"$(git status --porcelain)\\" && echo ok"'
    wreck = "git -c user.name=x -c user.email=x@x commit -q --allow-empty -m mine; rm -rf .git *"
    body = f"""
    [pipeline.main.wreck]
    run = "{wreck}"
    [pipeline.main.check]
    parallel = true
    [pipeline.main.check.one]
    {check}
    [pipeline.main.check.two]
    {check}
    [pipeline.main.check.three]
    {check}
    """
    since = time.time()
    pipeline_id = bot.launch(history_repo(bot, config(body, image=python_image)))
    assert bot.run(pipeline_id).state is State.DONE
    for name in ("one", "two", "three"):
        assert log(bot.only(pipeline_id, f"/check/{name}"))[:2] == ["third", "ok"]
    assert workspace_builds(bot, pipeline_id, since) == 1  # four nodes, one workspace image


def workspace_image_ids(bot: Bot, pipeline_id: int) -> list[str]:
    labels = [LABEL_BASE_IMAGE, f"{LABEL_PIPELINE}={pipeline_id}"]
    labels.append(f"{LABEL_BOT}={bot.services.engine.bot_id}")
    return sorted(str(image.id) for image in bot.docker.images.list(filters={"label": labels}))


def test_the_workspace_image_outlives_the_run_until_the_pipeline_is_archived(bot: Bot) -> None:
    repo = bot.repo(config('[pipeline.main.a]\nrun = "cat conducto.cfg > /dev/null"\n'))
    pipeline_id = bot.launch(repo)
    assert bot.run(pipeline_id).state is State.DONE
    kept = workspace_image_ids(bot, pipeline_id)
    assert len(kept) == 1, "kept once the pipeline settled"

    since = time.time()
    assert bot.store.reset(pipeline_id, "/a") == ["/a"]
    assert bot.run(pipeline_id).state is State.DONE

    assert workspace_builds(bot, pipeline_id, since) == 0, "the reset node started on it"
    assert workspace_image_ids(bot, pipeline_id) == kept
    later = utcnow() + timedelta(days=bot.settings.retention_days + 1)
    archived = archive_old(bot.store, bot.settings, now=later, executor=bot.services.executor)
    assert archived == [pipeline_id]
    assert workspace_image_ids(bot, pipeline_id) == []


def test_a_sweep_drops_the_workspace_images_of_pipelines_the_store_lost(bot: Bot) -> None:
    repo = bot.repo(config('[pipeline.main.a]\nrun = "true"\n'))
    pipeline_id = bot.launch(repo)
    assert bot.run(pipeline_id).state is State.DONE
    executor = bot.services.executor
    assert str(pipeline_id) in executor.held_pipelines(bot.services.engine.bot_id)

    bot.store.mark_archived(pipeline_id)  # as if archived by a retention without an engine
    assert sweep_workspaces(bot.store, executor) == [str(pipeline_id)]
    assert workspace_image_ids(bot, pipeline_id) == []
