"""Roles: a viewer token reads, an operator token also acts.

``ci-bot ui-token create NAME`` makes a viewer unless ``--role operator``; tokens in
``CI_BOT_UI_TOKENS`` and tokens made before roles existed act as before (operators).
A viewer's action is a 403 with a sentence, and the pages show it no action button.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from ci_bot.cli import main
from ci_bot.executors.fake import FakeExecutor
from ci_bot.store.store import Store
from ci_bot.web.auth import hash_secret
from tests.pipelines import create_pipeline
from tests.web.conftest import TOKEN, Bot, make_bot

TREE = '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n[pipeline.main.b]\nrun = "b"\n'
ACTIONS = ("reset", "skip", "unskip", "cancel", "rerun-failed")


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    made = make_bot(tmp_path, FakeExecutor())
    yield made
    made.store.engine.dispose()


def make_token(bot: Bot, name: str, *role: str) -> str:
    env = {"CI_BOT_DATA_DIR": str(bot.services.settings.data_dir)}
    made = CliRunner().invoke(main, ["ui-token", "create", name, *role], env=env)
    assert made.exit_code == 0, made.output
    return made.stdout.strip()


def signed_in(bot: Bot, token: str) -> FlaskClient:
    client = bot.app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    data = {"csrf_token": csrf.group(1), "token": token, "next": "/pipelines"}
    assert client.post("/sign-in", data=data).status_code == 302
    return client


def session_csrf(client: FlaskClient) -> str:
    page = client.get("/pipelines").get_data(as_text=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]*)"', page)
    assert found is not None
    return found.group(1)


def test_a_token_made_without_a_role_is_a_viewer_and_reads_everything(bot: Bot) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    token = make_token(bot, "auditor")
    headers = {"Authorization": f"Bearer {token}"}
    client = bot.app.test_client()
    for path in ("/api/pipelines", f"/api/pipelines/{pipeline_id}", f"/pipelines/{pipeline_id}"):
        assert client.get(path, headers=headers).status_code == 200, path
    listed = CliRunner().invoke(
        main, ["ui-token", "list"], env={"CI_BOT_DATA_DIR": str(bot.services.settings.data_dir)}
    )
    assert "auditor\tviewer\t" in listed.output


@pytest.mark.parametrize("action", ACTIONS)
def test_a_viewer_bearer_token_cannot_act_and_is_told_why(bot: Bot, action: str) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    token = make_token(bot, "auditor")
    response = bot.app.test_client().post(
        f"/api/pipelines/{pipeline_id}/{action}",
        json={"path": "/a"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert "viewer token" in error and "--role operator" in error
    acted = [e for e in bot.store.events(pipeline_id) if e.actor == "auditor"]
    assert acted == []
    assert bot.store.pipeline(pipeline_id).cancel_requested is False


def test_a_viewer_session_sees_no_action_buttons_and_its_forms_are_refused(bot: Bot) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    client = signed_in(bot, make_token(bot, "auditor"))
    page = client.get(f"/pipelines/{pipeline_id}").get_data(as_text=True)
    node = client.get(f"/pipelines/{pipeline_id}/nodes/a").get_data(as_text=True)
    for html in (page, node):
        assert 'class="action-form"' not in html
    csrf = session_csrf(client)
    form = client.post(
        f"/pipelines/{pipeline_id}/actions/cancel", data={"path": "/", "csrf_token": csrf}
    )
    assert form.status_code == 403 and "viewer token" in form.get_data(as_text=True)
    assert bot.store.pipeline(pipeline_id).cancel_requested is False
    assert client.post("/sign-out", data={"csrf_token": csrf}).status_code == 302  # may leave


def test_an_operator_token_acts(bot: Bot) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    token = make_token(bot, "release-manager", "--role", "operator")
    response = bot.app.test_client().post(
        f"/api/pipelines/{pipeline_id}/cancel", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    client = signed_in(bot, token)
    assert 'class="action-form"' in client.get(f"/pipelines/{pipeline_id}").get_data(as_text=True)


def test_tokens_from_the_environment_are_operators_as_before(bot: Bot) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    response = bot.app.test_client().post(
        f"/api/pipelines/{pipeline_id}/skip",
        json={"path": "/b"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200


def test_tokens_made_before_roles_existed_keep_acting(tmp_path: Path) -> None:
    """A data dir from an older ci-bot: its ui_tokens table has no role column."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE ui_tokens (id INTEGER PRIMARY KEY, name VARCHAR(100) UNIQUE, "
                "token_hash VARCHAR(64) UNIQUE, created_at DATETIME)"
            )
        )
        connection.execute(
            text("INSERT INTO ui_tokens (name, token_hash, created_at) VALUES (:n, :h, :c)"),
            {"n": "old-script", "h": hash_secret("old-token-made-long-ago"), "c": "2025-01-01"},
        )
    engine.dispose()
    store = Store(url)
    found = store.ui_token_by_hash(hash_secret("old-token-made-long-ago"))
    store.engine.dispose()
    assert found is not None and (found.name, found.role) == ("old-script", "operator")
