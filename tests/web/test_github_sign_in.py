"""Signing in with GitHub (against a fake GitHub): the OAuth web flow with its state
check, and permissions taken from GitHub: read what you can pull, act where you
can push, see nothing of repositories GitHub does not show you."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from ci_bot.executors.fake import FakeExecutor
from ci_bot.settings import Settings, SettingsError
from ci_bot.tree.select import Event
from ci_bot.web.ui.github import OAuthConfig
from ci_bot.web.ui.state import configure_github_sign_in
from tests.pipelines import create_pipeline
from tests.web.conftest import Bot, csrf_of, make_bot
from tests.web.fake_github_oauth import CLIENT_ID, CLIENT_SECRET, FakeGitHubOAuth, GitHubUser

TREE = '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n'
OCTOCAT = GitHubUser("octocat", "code-octocat", "gho_octocat_token", {"acme/shop": "write"})
READER = GitHubUser("reader", "code-reader", "gho_reader_token", {"acme/shop": "read"})


@pytest.fixture
def github() -> Iterator[FakeGitHubOAuth]:
    fake = FakeGitHubOAuth([OCTOCAT, READER]).start()
    yield fake
    fake.stop()
    assert not fake.problems, f"unexpected calls to GitHub: {fake.problems}"


@pytest.fixture
def github_bot(tmp_path: Path, github: FakeGitHubOAuth) -> Iterator[Bot]:
    made = make_bot(tmp_path, FakeExecutor(), github_api_url=github.api_url)
    oauth = OAuthConfig.from_env(
        {
            "CI_BOT_GITHUB_OAUTH_CLIENT_ID": CLIENT_ID,
            "CI_BOT_GITHUB_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        },
        made.services.settings,
    )
    assert oauth is not None and oauth.web_url == github.url  # Enterprise: web beside /api/v3
    configure_github_sign_in(made.app, oauth)
    github.redirect_uri = f"{made.services.settings.public_url}/sign-in/github/callback"
    yield made
    made.store.engine.dispose()


def sign_in_with_github(client: FlaskClient, github: FakeGitHubOAuth, user: GitHubUser) -> str:
    """Follow the flow as a browser would; where it lands."""
    page = client.get("/sign-in").get_data(as_text=True)
    assert "Sign in with GitHub" in page
    start = client.get("/sign-in/github?next=/pipelines?repo=acme/shop")
    assert start.status_code == 302
    target = urlsplit(start.location)
    assert (
        f"{target.scheme}://{target.netloc}{target.path}" == f"{github.url}/login/oauth/authorize"
    )
    query = parse_qs(target.query)
    assert query["client_id"] == [CLIENT_ID] and query["redirect_uri"] == [github.redirect_uri]
    # GitHub asks the person, then sends the browser back with a code and the state
    back = client.get(f"/sign-in/github/callback?code={user.code}&state={query['state'][0]}")
    assert back.status_code == 302, back.get_data(as_text=True)
    return back.location


def test_a_github_user_reads_what_they_can_pull_and_acts_where_they_can_push(
    github_bot: Bot, github: FakeGitHubOAuth
) -> None:
    shop = create_pipeline(github_bot.store, TREE, Event("push", branch="main", repo="acme/shop"))
    hidden = create_pipeline(
        github_bot.store, TREE, Event("push", branch="main", repo="acme/secret")
    )
    local = create_pipeline(github_bot.store, TREE, Event("push", branch="main", repo="sample-app"))

    writer = github_bot.app.test_client()
    assert sign_in_with_github(writer, github, OCTOCAT) == "/pipelines?repo=acme/shop"
    listed = writer.get("/api/pipelines").get_json()["pipelines"]
    assert [p["id"] for p in listed] == [shop]
    for pipeline_id in (hidden, local):
        assert writer.get(f"/api/pipelines/{pipeline_id}").status_code == 404
        assert writer.get(f"/pipelines/{pipeline_id}").status_code == 404
    reset = writer.post(
        f"/api/pipelines/{shop}/reset",
        json={"path": "/a"},
        headers={"X-CSRF-Token": csrf_of(writer)},
    )
    assert reset.status_code == 200
    assert [e.actor for e in github_bot.store.events(shop) if e.kind == "reset"] == [
        "github:octocat"
    ]

    reader = github_bot.app.test_client()
    sign_in_with_github(reader, github, READER)
    assert reader.get(f"/pipelines/{shop}").status_code == 200
    assert 'data-action="reset"' not in reader.get(f"/pipelines/{shop}/nodes/a").get_data(
        as_text=True
    )
    refused = reader.post(
        f"/api/pipelines/{shop}/cancel", json={}, headers={"X-CSRF-Token": csrf_of(reader)}
    )
    assert refused.status_code == 403 and "may not change" in refused.get_json()["error"]
    assert github_bot.store.pipeline(shop).cancel_requested is False
    # each session asks GitHub about a repository once, then remembers for a minute
    repo_calls = [path for _, path in github.calls if path == "/api/v3/repos/acme/shop"]
    assert len(repo_calls) == 2


def test_only_a_user_who_may_push_gets_to_change_a_command(
    github_bot: Bot, github: FakeGitHubOAuth
) -> None:
    shop = create_pipeline(github_bot.store, TREE, Event("push", branch="main", repo="acme/shop"))
    node_page = f"/pipelines/{shop}/nodes/a"
    wish = {"path": "/a", "run": "echo changed"}

    reader = github_bot.app.test_client()
    sign_in_with_github(reader, github, READER)
    assert "edit-command" not in reader.get(node_page).get_data(as_text=True)
    refused = reader.post(
        f"/api/pipelines/{shop}/reset", json=wish, headers={"X-CSRF-Token": csrf_of(reader)}
    )
    assert refused.status_code == 403
    assert github_bot.store.tree(shop).find("/a").run == "a"  # type: ignore[union-attr]

    writer = github_bot.app.test_client()
    sign_in_with_github(writer, github, OCTOCAT)
    assert "edit-command" in writer.get(node_page).get_data(as_text=True)
    done = writer.post(
        f"/api/pipelines/{shop}/reset", json=wish, headers={"X-CSRF-Token": csrf_of(writer)}
    )
    assert done.status_code == 200
    assert github_bot.store.tree(shop).find("/a").run == "echo changed"  # type: ignore[union-attr]


def test_a_callback_that_did_not_start_here_is_refused(
    github_bot: Bot, github: FakeGitHubOAuth
) -> None:
    client = github_bot.app.test_client()
    client.get("/sign-in/github")
    forged = client.get(f"/sign-in/github/callback?code={OCTOCAT.code}&state=not-the-state")
    assert forged.status_code == 400
    stranger = github_bot.app.test_client()
    assert stranger.get(f"/sign-in/github/callback?code={OCTOCAT.code}&state=x").status_code == 400
    assert github.calls == []  # GitHub was never asked
    assert client.get("/pipelines").status_code == 302


def test_a_code_github_refuses_signs_no_one_in(github_bot: Bot, github: FakeGitHubOAuth) -> None:
    client = github_bot.app.test_client()
    start = client.get("/sign-in/github")
    state = parse_qs(urlsplit(start.location).query)["state"][0]
    answer = client.get(f"/sign-in/github/callback?code=stolen-code&state={state}")
    assert answer.status_code == 502
    assert "The code passed is incorrect or expired." in answer.get_data(as_text=True)
    assert client.get("/pipelines").status_code == 302
    assert github.calls == [("POST", "/login/oauth/access_token")]


def test_github_sign_in_is_off_unless_configured_and_needs_both_settings(bot: Bot) -> None:
    client = bot.app.test_client()
    assert "Sign in with GitHub" not in client.get("/sign-in").get_data(as_text=True)
    assert client.get("/sign-in/github").status_code == 404
    settings = Settings.from_env({}, data_dir=bot.root)
    with pytest.raises(SettingsError, match="needs both"):
        OAuthConfig.from_env({"CI_BOT_GITHUB_OAUTH_CLIENT_ID": CLIENT_ID}, settings)
    assert OAuthConfig.from_env({}, settings) is None
    config = OAuthConfig.from_env(
        {"CI_BOT_GITHUB_OAUTH_CLIENT_ID": "an-id", "CI_BOT_GITHUB_OAUTH_CLIENT_SECRET": "s3cr3t"},
        settings,
    )
    assert config is not None and config.web_url == "https://github.com"
    assert "s3cr3t" not in repr(config)
