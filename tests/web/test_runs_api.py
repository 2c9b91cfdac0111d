"""Starting pipelines by hand: ``POST /api/pipelines`` runs a repository the bot has built
from GitHub (its branch's newest commit, or one commit) through the webhooks' launch
path, for operator tokens only; ``POST /api/pipelines/ID/rerun`` runs a GitHub pipeline
again on its branch's newest commit, and a local one on its own files.  Bad requests
get a 4xx sentence; nothing is launched for them.

The repositories are real git repositories served from disk (file:// clone URLs), and
the job queue runs in its worker threads, as under ``ci-bot serve``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ci_bot.engine.launch import launch_local
from ci_bot.executors.fake import FakeExecutor
from ci_bot.github.events import Repo
from ci_bot.github.launching import REPO_META
from ci_bot.tree.select import Event
from ci_bot.web.auth import hash_secret
from tests.gitrepos import make_bare_remote, make_repo, push_files
from tests.pipelines import create_pipeline
from tests.web.conftest import TOKEN, Bot, csrf_of, make_bot

CONFIG = """\
[[push]]
pipeline = "ci"

[pipeline.ci]
image = "busybox"
[pipeline.ci.test]
run = "echo test"
"""
TINY = '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n'
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    """The bot with its job queue running (no engine: launched pipelines stay pending)."""
    made = make_bot(tmp_path, FakeExecutor(), allow_local_clones=True)
    made.services.queue.start()
    yield made
    made.services.queue.stop()
    made.store.engine.dispose()


@pytest.fixture
def remote(bot: Bot, tmp_path: Path) -> tuple[str, str]:
    """acme/shop on "GitHub" (a bare repository), known to the bot from an earlier
    webhook as cron knows repositories: (its URL, the sha of main)."""
    url, sha = make_bare_remote(tmp_path, {"conducto.cfg": CONFIG})
    earlier = create_pipeline(bot.store, TINY, Event("push", branch="main", repo="acme/shop"))
    repo = Repo("acme/shop", url, "main", None)
    bot.store.set_meta(earlier, REPO_META, dataclasses.asdict(repo))
    return url, sha


def run(bot: Bot, body: Any, headers: dict[str, str] | None = None) -> Any:
    return bot.app.test_client().post("/api/pipelines", json=body, headers=headers or BEARER)


def test_a_known_repository_runs_on_its_branchs_newest_commit(
    bot: Bot, remote: tuple[str, str]
) -> None:
    url, _ = remote
    newest = push_files(url, {"README": "new"}, "Document the shop")
    answer = run(bot, {"repo": "acme/shop", "branch": "main"})
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    pipeline = bot.store.pipeline(created["id"])
    assert (pipeline.repo, pipeline.event, pipeline.branch) == ("acme/shop", "push", "main")
    assert pipeline.sha == newest and pipeline.title == "Document the shop"
    assert created["url"] == f"http://localhost:8080/pipelines/{created['id']}"
    assert answer.headers["Location"] == created["url"]
    assert bot.store.meta(created["id"])["manual_by"] == "token-1"
    [delivery] = [d for d in bot.store.deliveries_with_status("handled") if d.source == "manual"]
    assert f"pipeline {created['id']} launched" in delivery.outcome


def test_a_commit_runs_by_its_abbreviated_sha(bot: Bot, remote: tuple[str, str]) -> None:
    url, first = remote
    push_files(url, {"README": "new"}, "Later")
    answer = run(bot, {"repo": "acme/shop", "sha": first[:9], "branch": "main"})
    assert answer.status_code == 201, answer.get_json()
    assert bot.store.pipeline(answer.get_json()["id"]).sha == first


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"repo": "acme/other", "branch": "main"}, 404, "never built acme/other"),
        ({"repo": "acme/shop"}, 400, "give a branch"),
        ({"repo": "acme/shop", "branch": "main", "event": "psuh"}, 400, "did you mean 'push'"),
        ({"repo": "acme/shop", "branch": "main", "event": "pr"}, 400, "event must be one of"),
        ({"repo": "acme/shop", "branch": "main", "ref": "x"}, 400, "unknown field 'ref'"),
        ({"repo": "acme/shop", "branch": "a..b"}, 400, "not a valid git ref"),
        ({"repo": "acme/shop", "sha": "xyz"}, 400, "not a commit id"),
        ({"repo": "../etc", "branch": "main"}, 400, "not an owner/name"),
        ({"repo": 7, "branch": "main"}, 400, "must be strings"),
        (["acme/shop"], 400, "JSON object"),
        ({"repo": "acme/shop", "branch": "no-such-branch"}, 422, "no-such-branch"),
        ({"repo": "acme/shop", "branch": "main", "event": "cron"}, 422, "no pipeline"),
    ],
)
def test_what_cannot_be_run_is_said_and_nothing_launches(
    bot: Bot, remote: tuple[str, str], body: Any, status: int, words: str
) -> None:
    before = len(bot.store.pipelines())
    answer = run(bot, body)
    assert answer.status_code == status, answer.get_json()
    assert words in answer.get_json()["error"]
    assert len(bot.store.pipelines()) == before


def test_only_operator_tokens_start_pipelines(bot: Bot, remote: tuple[str, str]) -> None:
    bot.store.add_ui_token("auditor", hash_secret("viewer-token-0123456789"), role="viewer")
    viewer = {"Authorization": "Bearer viewer-token-0123456789"}
    refused = run(bot, {"repo": "acme/shop", "branch": "main"}, viewer)
    assert refused.status_code == 403 and "viewer token" in refused.get_json()["error"]
    stranger = bot.app.test_client().post("/api/pipelines", json={"repo": "acme/shop"})
    assert stranger.status_code == 401
    assert len(bot.store.pipelines()) == 1  # the earlier one only


def test_a_github_pipeline_reruns_on_its_branchs_newest_commit(
    bot: Bot, remote: tuple[str, str]
) -> None:
    url, first = remote
    started = run(bot, {"repo": "acme/shop", "branch": "main"}).get_json()["id"]
    newest = push_files(url, {"fix.txt": "fixed"}, "Fix the cart")
    answer = bot.app.test_client().post(f"/api/pipelines/{started}/rerun", headers=BEARER)
    assert answer.status_code == 201, answer.get_json()
    again = answer.get_json()
    assert again["rerun_of"] == started and again["id"] != started
    assert bot.store.pipeline(started).sha == first
    assert bot.store.pipeline(again["id"]).sha == newest
    assert bot.store.meta(again["id"])["rerun_of"] == started


def test_a_local_pipeline_reruns_on_its_own_files(bot: Bot, tmp_path: Path) -> None:
    repo = tmp_path / "work"
    make_repo(repo, {"conducto.cfg": CONFIG})
    services = bot.services
    first = launch_local(
        services.store, services.settings, services.executor, repo, Event("push", branch="main")
    )
    (repo / "conducto.cfg").write_text("broken = [")  # the rerun reads the snapshot, not this
    answer = bot.app.test_client().post(f"/api/pipelines/{first}/rerun", headers=BEARER)
    assert answer.status_code == 201, answer.get_json()
    again = bot.store.pipeline(answer.get_json()["id"])
    old = bot.store.pipeline(first)
    assert (again.event, again.branch, again.sha, again.repo) == (
        old.event,
        old.branch,
        old.sha,
        old.repo,
    )
    assert again.source_dir != old.source_dir
    assert (Path(again.source_dir) / "conducto.cfg").read_text() == CONFIG
    assert [n.path for n in bot.store.nodes(again.id)] == ["/", "/test"]


def test_a_pipeline_whose_files_are_gone_cannot_rerun(bot: Bot) -> None:
    gone = create_pipeline(bot.store, TINY)  # no snapshot, no GitHub repository
    answer = bot.app.test_client().post(f"/api/pipelines/{gone}/rerun", headers=BEARER)
    assert answer.status_code == 409 and "retention" in answer.get_json()["error"]


def test_the_forms_work_without_javascript(
    bot: Bot, client: FlaskClient, remote: tuple[str, str]
) -> None:
    csrf = csrf_of(client)
    form = {"csrf_token": csrf, "repo": "acme/shop", "branch": "main", "sha": "", "event": "push"}
    answer = client.post("/pipelines/run", data=form)
    assert answer.status_code == 302
    started = int(answer.headers["Location"].rsplit("/", 1)[1])
    assert bot.store.pipeline(started).branch == "main"
    again = client.post(f"/pipelines/{started}/rerun", data={"csrf_token": csrf})
    assert again.status_code == 302 and again.headers["Location"] != answer.headers["Location"]
    bad = client.post("/pipelines/run", data={**form, "repo": "acme/nope"})
    assert bad.status_code == 404 and "never built acme/nope" in bad.get_data(as_text=True)
