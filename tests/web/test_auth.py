"""Who gets in: sign-in with tokens, sessions in HttpOnly SameSite cookies, CSRF on
every change made through a session, bearer tokens for scripts, and the paths
that stay open (webhooks, health)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient

from ci_bot.cli import main
from ci_bot.executors.fake import FakeExecutor
from ci_bot.store.transactions import utcnow
from tests.pipelines import create_pipeline
from tests.web.conftest import TOKEN, Bot, csrf_of, make_bot, sign_in

TWO_EXECS = (
    '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n[pipeline.main.b]\nrun = "b"\n'
)


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_strangers_are_sent_to_sign_in_and_the_api_answers_401(bot: Bot) -> None:
    pipeline_id = create_pipeline(bot.store, TWO_EXECS)
    client = bot.app.test_client()
    for path in (
        "/",
        "/pipelines",
        f"/pipelines/{pipeline_id}",
        f"/pipelines/{pipeline_id}/nodes/a",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.location.startswith("/sign-in?next=/"), path
    for path in (
        "/api/pipelines",
        f"/api/pipelines/{pipeline_id}",
        f"/api/pipelines/{pipeline_id}/stream",
    ):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "sign in" in response.get_json()["error"]
    assert client.post(f"/api/pipelines/{pipeline_id}/cancel").status_code == 401
    assert bot.store.pipeline(pipeline_id).cancel_requested is False


def test_health_webhooks_and_sign_in_stay_open(bot: Bot) -> None:
    client = bot.app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 401  # a scraper sends a Bearer token
    assert client.get("/sign-in").status_code == 200
    with client.get("/ui-static/ci-bot.css") as css:
        assert css.status_code == 200
    # whatever the webhook handlers answer (a refused signature, say), the UI's guard
    # neither redirects them to sign in nor asks them for a token
    for path in ("/webhooks/github", "/webhooks/slack/interactions"):
        webhook = client.post(path, data=b"{}")
        assert webhook.status_code != 302, path
        assert "sign in first" not in webhook.get_data(as_text=True), path


def test_a_token_signs_in_with_an_httponly_samesite_cookie(bot: Bot) -> None:
    client = bot.app.test_client()
    response = sign_in(client, next_path="/pipelines?state=error")
    assert response.status_code == 302
    assert response.location == "/pipelines?state=error"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "ci_bot_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # the bot is served over plain http here
    assert client.get("/pipelines").status_code == 200


def test_cookies_are_secure_when_the_bot_is_served_over_https(tmp_path: Path) -> None:
    https = make_bot(tmp_path, FakeExecutor(), public_url="https://ci.example.com")
    response = sign_in(https.app.test_client())
    https.store.engine.dispose()
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "ci_bot_session=" in c)
    assert "Secure" in cookie


def test_a_wrong_token_is_refused_and_sets_no_session(bot: Bot) -> None:
    client = bot.app.test_client()
    response = sign_in(client, token="not-the-token-at-all")
    assert response.status_code == 401
    assert "That token is not valid." in response.get_data(as_text=True)
    assert not any("ci_bot_session=" in c for c in response.headers.getlist("Set-Cookie"))
    assert client.get("/pipelines").status_code == 302


def test_the_sign_in_form_must_come_from_the_bot(bot: Bot) -> None:
    """Login CSRF: a form posted from elsewhere lacks the form's own cookie."""
    client = bot.app.test_client()
    forged = client.post("/sign-in", data={"csrf_token": "guess", "token": TOKEN})
    assert forged.status_code == 403
    assert client.get("/pipelines").status_code == 302


def test_a_forged_post_without_the_csrf_token_is_refused_and_changes_nothing(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = create_pipeline(bot.store, TWO_EXECS)
    api = f"/api/pipelines/{pipeline_id}/cancel"
    form = f"/pipelines/{pipeline_id}/actions/cancel"
    assert client.post(api, json={}).status_code == 403
    assert client.post(api, json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post(form, data={"path": "/"}).status_code == 403
    assert client.post(form, data={"path": "/", "csrf_token": "forged"}).status_code == 403
    assert bot.store.pipeline(pipeline_id).cancel_requested is False

    csrf = csrf_of(client)
    done = client.post(api, json={}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and done.get_json()["action"] == "cancel"
    assert bot.store.pipeline(pipeline_id).cancel_requested is True


def test_a_bearer_token_needs_no_csrf_and_a_wrong_one_gets_401(bot: Bot) -> None:
    pipeline_id = create_pipeline(bot.store, TWO_EXECS)
    client = bot.app.test_client()
    assert (
        client.get("/api/pipelines", headers=bearer("wrong-token-wrong-token")).status_code == 401
    )
    response = client.post(
        f"/api/pipelines/{pipeline_id}/skip", json={"path": "/b"}, headers=bearer()
    )
    assert response.status_code == 200
    assert bot.store.exec_states(pipeline_id)["/b"] == "skipped"
    [event] = [e for e in bot.store.events(pipeline_id) if e.kind == "skip"]
    assert event.actor == "token-1"


def test_signing_out_ends_the_session_even_for_a_copied_cookie(bot: Bot) -> None:
    client = bot.app.test_client()
    response = sign_in(client)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "ci_bot_session=" in c)
    value = cookie.split(";")[0].split("=", 1)[1]
    csrf = csrf_of(client)
    assert client.post("/sign-out", data={}).status_code == 403  # sign-out is a change too
    assert client.post("/sign-out", data={"csrf_token": csrf}).status_code == 302
    thief = bot.app.test_client()
    thief.set_cookie("ci_bot_session", value)
    assert thief.get("/pipelines").status_code == 302


def test_next_never_leads_off_the_site(bot: Bot) -> None:
    for target in (
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
    ):
        response = sign_in(bot.app.test_client(), next_path=target)
        assert response.status_code == 302
        assert response.location == "/pipelines", target


def test_expired_sessions_sign_no_one_in(bot: Bot) -> None:
    bot.store.create_ui_session("a" * 64, "alice", "token", "csrf", ttl_seconds=-1)
    assert bot.store.ui_session("a" * 64) is None
    bot.store.create_ui_session("b" * 64, "bob", "token", "csrf", ttl_seconds=60)
    live = bot.store.ui_session("b" * 64)
    assert live is not None and live.user == "bob" and live.expires_at > utcnow()
    assert "csrf" not in repr(live)


def test_tokens_made_with_the_cli_sign_in_until_revoked(bot: Bot) -> None:
    env = {"CI_BOT_DATA_DIR": str(bot.services.settings.data_dir)}
    runner = CliRunner()
    made = runner.invoke(main, ["ui-token", "create", "alice"], env=env)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert len(token) >= 32
    client = bot.app.test_client()
    assert client.get("/api/pipelines", headers=bearer(token)).status_code == 200
    again = runner.invoke(main, ["ui-token", "create", "alice"], env=env)
    assert again.exit_code == 1 and "exists already" in again.output
    listed = runner.invoke(main, ["ui-token", "list"], env=env)
    assert "alice" in listed.output and token not in listed.output
    assert runner.invoke(main, ["ui-token", "revoke", "alice"], env=env).exit_code == 0
    assert client.get("/api/pipelines", headers=bearer(token)).status_code == 401
    bad = runner.invoke(main, ["ui-token", "create", "no spaces please"], env=env)
    assert bad.exit_code == 1 and "letters, digits" in bad.output
