"""No Exec container outlives its pipeline's settling: ended containers are removed in
the background while the next node starts, and a settling pipeline (or an engine that
starts serving) removes whatever ended container of it is still there."""

from __future__ import annotations

from typing import Any

import pytest

from ci_bot.executors.base import LABEL_BOT, LABEL_EXECUTION, LABEL_NODE, LABEL_PIPELINE
from ci_bot.executors.images import BUSYBOX_IMAGE
from ci_bot.tree.states import State
from tests.containers import containers_of
from tests.engine.bots import Bot, config, wait_for

pytestmark = pytest.mark.docker

SERIAL = config(
    """
    [pipeline.main.one]
    run = "echo one"
    [pipeline.main.two]
    run = "echo two"
    [pipeline.main.three]
    run = "echo three"
    """
)


def left_by_a_stopped_bot(bot: Bot, pipeline_id: int, execution: str = "0") -> Any:
    """An ended container of the pipeline, as a bot stopped between storing a node's
    result and removing its container leaves it (labelled, mounting its $CI_DATA)."""
    data = bot.data(pipeline_id)
    data.mkdir(parents=True, exist_ok=True)
    container = bot.docker.containers.run(
        BUSYBOX_IMAGE,
        "true",
        detach=True,
        labels={
            LABEL_PIPELINE: str(pipeline_id),
            LABEL_NODE: "/one",
            LABEL_EXECUTION: execution,
            LABEL_BOT: bot.services.engine.bot_id,
        },
        volumes={str(data.resolve()): {"bind": "/ci/data", "mode": "rw"}},
    )
    container.wait()
    return container


@pytest.mark.parametrize("stopped_bot_left_one", [False, True])
def test_no_container_is_left_once_a_serial_settled(bot: Bot, stopped_bot_left_one: bool) -> None:
    """Neither its own nor an ended one a stopped bot left (it goes when the pipeline settles)."""
    pipeline_id = bot.launch(bot.repo(SERIAL))
    if stopped_bot_left_one:
        left_by_a_stopped_bot(bot, pipeline_id)

    pipeline = bot.run(pipeline_id)

    assert pipeline.state is State.DONE
    assert containers_of(bot.docker, pipeline_id, bot.settings.data_dir) == []


def test_a_serving_engine_removes_what_a_stopped_bot_left_of_a_settled_pipeline(
    bot: Bot,
) -> None:
    pipeline_id = bot.launch(bot.repo(SERIAL))
    assert bot.run(pipeline_id).state is State.DONE
    [three] = bot.executions(pipeline_id, "/three")
    left_by_a_stopped_bot(bot, pipeline_id, execution=str(three.id))  # its result is stored
    assert containers_of(bot.docker, pipeline_id, bot.settings.data_dir) != []

    engine = bot.services.engine
    engine.start()
    try:
        wait_for(
            lambda: containers_of(bot.docker, pipeline_id, bot.settings.data_dir) == [],
            "the ended container to be removed",
        )
    finally:
        engine.stop()
    assert bot.store.pipeline(pipeline_id).lease_owner is None
    assert [e.state for e in bot.executions(pipeline_id, "/three")] == [State.DONE]
