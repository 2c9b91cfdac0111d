"""Signing in: ``next`` never leads off the site, and no value sent to the sign-in
flow (query, form, header, cookie) gets a 500.

Defects these pin down: ``next=/%09/evil.example`` answered ``Location:
//evil.example`` (a browser drops the tab), and a carriage return in ``next``
gave a 500 after a successful sign-in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from ci_bot.executors.fake import FakeExecutor
from ci_bot.web.redirects import local_path
from tests.web.conftest import TOKEN, Bot, make_bot

EVIL = [
    "/\t/evil.example",  # the reported one: /%09/evil.example
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\x7f/evil.example",
    "/\x85/evil.example",
    "/\\evil.example",
    "/\t\\evil.example",
    "\\/evil.example",
    "//evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/x\\@evil.example",
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    made = make_bot(tmp_path_factory.mktemp("sign-in"), FakeExecutor())
    yield made
    made.store.engine.dispose()


def sign_in_with_next(client: FlaskClient, target: str, token: str = TOKEN) -> TestResponse:
    """Open the form with ``?next=target`` (decoded, as a link would carry it), then post
    the token with that same ``next`` (as a crafted form could)."""
    form = client.get("/sign-in", query_string={"next": target}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    data = {"csrf_token": csrf.group(1), "token": token, "next": target}
    return client.post("/sign-in", data=data)


def lands_here(location: str) -> bool:
    """What a browser does with ``location``: drop tabs and line ends, read ``\\`` as
    ``/``, strip other controls at the ends; then it must name no other host."""
    read = re.sub(r"[\t\n\r]", "", location).strip("\x00- ").replace("\\", "/")
    parts = urlsplit(read)
    return read.startswith("/") and not read.startswith("//") and not parts.netloc


@pytest.mark.parametrize("target", EVIL)
def test_next_never_leads_off_the_site_after_normalising_controls(bot: Bot, target: str) -> None:
    response = sign_in_with_next(bot.app.test_client(), target)
    assert response.status_code == 302
    assert lands_here(response.location), response.location
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", response.location)


def test_the_reported_tab_redirect_goes_to_the_pipeline_list(bot: Bot) -> None:
    response = sign_in_with_next(bot.app.test_client(), unquote("/%09/evil.example"))
    assert response.location == "/pipelines"


def test_a_carriage_return_in_next_is_no_500_and_the_sign_in_still_works(bot: Bot) -> None:
    client = bot.app.test_client()
    response = sign_in_with_next(client, "/pipelines\r\nSet-Cookie: x=1")
    assert response.status_code == 302
    assert response.location == "/pipelinesSet-Cookie:%20x=1"  # one path, on this site
    assert "x=1" not in str(response.headers.getlist("Set-Cookie"))
    assert client.get("/pipelines").status_code == 200


def test_a_path_outside_ascii_is_sent_percent_encoded() -> None:
    assert local_path("/pipelines?branch=é€") == "/pipelines?branch=%C3%A9%E2%82%AC"
    assert local_path("/pipelines?state=error") == "/pipelines?state=error"


LATIN1 = st.text(st.characters(max_codepoint=255, blacklist_characters="\r\n\x00"), max_size=80)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(next_value=st.text(max_size=120), token=st.text(max_size=60))
def test_any_next_and_token_get_an_answer_never_a_500(
    bot: Bot, next_value: str, token: str
) -> None:
    client = bot.app.test_client()
    form = client.get("/sign-in", query_string={"next": next_value})
    assert form.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True))
    assert csrf is not None
    posted = client.post(
        "/sign-in",
        data={"csrf_token": csrf.group(1), "token": token, "next": next_value},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert posted.status_code in (302, 401, 429), posted.status_code
    if posted.status_code == 302:
        assert lands_here(posted.location), posted.location
    bot.app.extensions["ci_bot_ui"].throttle._windows.clear()  # many tries, one address


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    authorization=LATIN1,
    csrf_header=LATIN1,
    cookie=LATIN1,
    state=st.text(max_size=40),
    code=st.text(max_size=40),
    error=st.text(max_size=40),
)
def test_any_header_cookie_or_callback_value_gets_an_answer_never_a_500(
    bot: Bot, authorization: str, csrf_header: str, cookie: str, state: str, code: str, error: str
) -> None:
    client = bot.app.test_client()
    client.set_cookie("ci_bot_session", cookie)
    client.set_cookie("ci_bot_oauth_state", cookie)
    headers = {"Authorization": authorization, "X-CSRF-Token": csrf_header}
    for method, path in (
        ("GET", "/pipelines"),
        ("GET", "/api/pipelines"),
        ("POST", "/api/pipelines/1/cancel"),
        ("POST", "/sign-out"),
        ("POST", "/sign-in"),
    ):
        answer = client.open(path, method=method, headers=headers)
        assert answer.status_code < 500, (method, path, answer.status_code)
    callback = client.get(
        "/sign-in/github/callback", query_string={"state": state, "code": code, "error": error}
    )
    assert callback.status_code < 500
    bot.app.extensions["ci_bot_ui"].throttle._windows.clear()


def test_a_right_token_signs_in_with_every_reported_next(bot: Bot) -> None:
    for target in ("/\t/evil.example", "/pipelines\r"):
        client = bot.app.test_client()
        assert sign_in_with_next(client, target).status_code == 302
        assert client.get("/pipelines").status_code == 200


def test_the_sign_in_page_never_offers_a_foreign_next(bot: Bot) -> None:
    page = bot.app.test_client().get("/sign-in?next=/%09/evil.example").get_data(as_text=True)
    found = re.search(r'name="next" value="([^"]*)"', page)
    assert found is not None and found.group(1) == "/pipelines"
