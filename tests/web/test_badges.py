"""``/badge/OWNER/REPO.svg?branch=B``: the newest finished pipeline of a branch (pull
requests aside) as an SVG badge; for signed-in viewers unless CI_BOT_PUBLIC_BADGES."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ci_bot.executors.fake import FakeExecutor
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from ci_bot.web.badge_svg import BADGES, UNKNOWN, render
from tests.pipelines import create_pipeline
from tests.web.conftest import Bot, make_bot, record_run

TINY = '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n'


def finished(bot: Bot, event: Event, state: State) -> int:
    pipeline_id = create_pipeline(bot.store, TINY, event)
    record_run(bot, pipeline_id, "/a", ["ok"], state=state)
    return pipeline_id


def words(svg: str) -> str:
    return svg.split("<title>")[1].split("</title>")[0]


def test_a_badge_shows_the_branchs_newest_finished_pipeline(bot: Bot, client: FlaskClient) -> None:
    finished(bot, Event("push", branch="main", repo="acme/shop"), State.ERROR)
    finished(bot, Event("push", branch="main", repo="acme/shop"), State.DONE)
    finished(bot, Event("pr", branch="main", pr="7", repo="acme/shop"), State.ERROR)  # aside
    finished(bot, Event("push", branch="fix", repo="acme/shop"), State.ERROR)
    create_pipeline(bot.store, TINY, Event("push", branch="main", repo="acme/shop"))  # runs

    answer = client.get("/badge/acme/shop.svg?branch=main")
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    assert words(answer.get_data(as_text=True)) == "ci-bot: passing"
    assert "no-cache" in answer.headers["Cache-Control"]
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    fix = client.get("/badge/acme/shop.svg?branch=fix").get_data(as_text=True)
    assert words(fix) == "ci-bot: failing"
    newest = client.get("/badge/acme/shop.svg").get_data(as_text=True)  # any branch
    assert words(newest) == "ci-bot: failing"
    unknown = client.get("/badge/acme/shop.svg?branch=gone").get_data(as_text=True)
    assert words(unknown) == "ci-bot: unknown"


def test_badges_need_a_signed_in_viewer_by_default(bot: Bot) -> None:
    finished(bot, Event("push", branch="main", repo="acme/shop"), State.DONE)
    stranger = bot.app.test_client().get("/badge/acme/shop.svg?branch=main")
    assert stranger.status_code == 302 and "/sign-in" in stranger.headers["Location"]


@pytest.fixture
def public(tmp_path: Path) -> Iterator[Bot]:
    made = make_bot(tmp_path, FakeExecutor(), public_badges=True)
    yield made
    made.store.engine.dispose()


def test_public_badges_are_anyones(public: Bot) -> None:
    finished(public, Event("push", branch="main", repo="acme/shop"), State.DONE)
    stranger = public.app.test_client()
    answer = stranger.get("/badge/acme/shop.svg?branch=main")
    assert answer.status_code == 200
    assert words(answer.get_data(as_text=True)) == "ci-bot: passing"
    assert stranger.get("/pipelines").status_code == 302, "only badges are public"
    assert stranger.get("/api/pipelines").status_code == 401


def test_a_badge_holds_only_its_own_words() -> None:
    for badge in [*BADGES.values(), UNKNOWN]:
        svg = render(badge)
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert f">{badge.message}</text>" in svg and badge.colour in svg
    assert 'width="' in render(UNKNOWN)
