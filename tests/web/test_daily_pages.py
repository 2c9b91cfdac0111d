"""What daily use needs from the pages, drawn by the server: the running time with the
wall time beside it, the failed nodes linked from the list, the list's live part on
its own, buttons enabled only where their action applies and destructive ones asking
first, the root's doc, the tree beside a node's log, the artifacts card, and the Run
and Rerun forms."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from flask.testing import FlaskClient

from ci_bot.github.events import Repo
from ci_bot.github.launching import REPO_META
from ci_bot.tree.states import State
from ci_bot.web.ui.artifacts import data_dir
from tests.pipelines import create_pipeline
from tests.web.conftest import Bot, csrf_of, record_run
from tests.web.test_daily_api import SHOP, set_times, shop


def test_pages_show_the_running_time_with_the_wall_time_beside_it(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = shop(bot)
    for path in ("/lint", "/test", "/deploy"):
        record_run(bot, pipeline_id, path, ["ok"])
    set_times(bot, pipeline_id, created_minutes_ago=11, run_seconds=8)
    page = client.get(f"/pipelines/{pipeline_id}").get_data(as_text=True)
    assert re.search(r'data-role="run-time"[^>]*>8s<', page)
    assert re.search(r'data-role="wall-time"[^>]*><span class="duration"[^>]*>11m', page)
    row = client.get("/pipelines").get_data(as_text=True)
    assert re.search(r'data-role="run-time"[^>]*>8s<', row)


def test_the_list_links_the_failed_nodes(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    record_run(bot, pipeline_id, "/test", ["boom"], state=State.ERROR, message="exit 3")
    rows = client.get("/pipelines/rows").get_data(as_text=True)
    assert f'href="/pipelines/{pipeline_id}/nodes/test"' in rows
    assert 'data-role="failed-nodes"' in rows


def test_the_lists_live_part_is_served_alone_with_the_pages_filters(
    bot: Bot, client: FlaskClient
) -> None:
    main, feature = shop(bot), shop(bot, "feature")
    rows = client.get("/pipelines/rows?branch=feature").get_data(as_text=True)
    assert f'data-id="{feature}"' in rows and f'data-id="{main}"' not in rows
    assert "<html" not in rows and 'data-role="chips"' in rows
    page = client.get("/pipelines?branch=feature").get_data(as_text=True)
    assert 'data-rows="/pipelines/rows?branch=feature"' in page
    assert client.get("/pipelines/rows?state=nonsense").status_code == 400


def test_buttons_are_enabled_only_where_their_action_applies(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    record_run(bot, pipeline_id, "/lint", ["ok"])
    record_run(bot, pipeline_id, "/test", ["boom"], state=State.ERROR)

    def enabled(page: str, role: str) -> bool:
        button = re.search(rf'<button[^>]*data-role="{role}"[^>]*>', page)
        assert button, f"no {role} button"
        return " disabled" not in button.group(0)

    lint = client.get(f"/pipelines/{pipeline_id}/nodes/lint").get_data(as_text=True)
    assert enabled(lint, "action-reset") and not enabled(lint, "action-skip")
    assert not enabled(lint, "action-unskip")
    deploy = client.get(f"/pipelines/{pipeline_id}/nodes/deploy").get_data(as_text=True)
    assert not enabled(deploy, "action-reset") and enabled(deploy, "action-skip")
    failed = client.get(f"/pipelines/{pipeline_id}").get_data(as_text=True)  # it has ended
    assert not enabled(failed, "action-cancel") and enabled(failed, "action-rerun-failed")
    assert re.search(r'data-action="reset"[^>]*data-confirm="Reset /lint\?', lint)

    running = shop(bot)
    record_run(bot, running, "/lint", ["linting"], finish=False)
    page = client.get(f"/pipelines/{running}").get_data(as_text=True)
    assert enabled(page, "action-cancel") and not enabled(page, "action-rerun-failed")
    assert re.search(r'data-action="cancel"[^>]*data-confirm="Cancel pipeline', page)
    headers = {"X-CSRF-Token": csrf_of(client)}
    assert client.post(f"/api/pipelines/{running}/cancel", headers=headers).status_code == 200
    cancelled = client.get(f"/pipelines/{running}").get_data(as_text=True)
    assert enabled(cancelled, "action-rerun-failed"), "Rerun failed applies after a cancel"


def test_the_pipeline_page_shows_the_roots_doc(bot: Bot, client: FlaskClient) -> None:
    page = client.get(f"/pipelines/{shop(bot)}").get_data(as_text=True)
    assert 'data-role="pipeline-doc"' in page and "<strong>whole</strong>" in page


def test_a_node_page_draws_the_tree_beside_the_log(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    record_run(bot, pipeline_id, "/test", ["ok"])
    page = client.get(f"/pipelines/{pipeline_id}/nodes/test").get_data(as_text=True)
    assert 'class="tree-side' in page and 'data-path="/deploy"' in page
    assert re.search(r'class="node state-done current" data-path="/test"', page)
    assert 'data-role="log-search"' in page and 'data-role="log-wrap"' in page
    assert Path(bot.store.executions(pipeline_id, "/test")[0].log_path).is_file()


def test_the_pipeline_page_lists_its_artifacts(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = shop(bot)
    root = data_dir(bot.services.settings, pipeline_id)
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "app.pyz").write_bytes(b"PK app")
    (root / "dist" / "app.pyz.sig").write_text("-----BEGIN SSH SIGNATURE-----\n")
    (root / "dist" / "app.pyz.provenance.json").write_text('{"node_path": "/build"}')
    (root / "link").symlink_to("/etc")
    page = client.get(f"/pipelines/{pipeline_id}").get_data(as_text=True)
    assert f'href="/api/pipelines/{pipeline_id}/artifacts/dist/app.pyz"' in page
    assert "made by <code>/build</code>" in page and ">signature</a>" in page
    card = client.get(f"/pipelines/{pipeline_id}/artifacts").get_data(as_text=True)
    assert "<html" not in card and 'data-role="artifacts"' in card
    assert 'data-path="link"' not in card


def test_the_run_form_offers_the_repositories_the_bot_knows(bot: Bot, client: FlaskClient) -> None:
    known = shop(bot)
    repo = Repo("acme/shop", "https://github.com/acme/shop.git", "main", None)
    bot.store.set_meta(known, REPO_META, dataclasses.asdict(repo))
    page = client.get("/pipelines").get_data(as_text=True)
    assert 'data-role="run-form"' in page and '<option value="acme/shop"' in page
    assert 'action="/pipelines/run"' in page


def test_rerun_is_offered_only_where_the_files_or_the_branch_remain(
    bot: Bot, client: FlaskClient
) -> None:
    gone = create_pipeline(bot.store, SHOP)  # no snapshot, no GitHub repository
    page = client.get(f"/pipelines/{gone}").get_data(as_text=True)
    rerun = re.search(r'<button[^>]*data-role="rerun"[^>]*>', page)
    assert rerun and " disabled" in rerun.group(0) and "its files are gone" in rerun.group(0)
    github = shop(bot)
    repo = Repo("acme/shop", "https://github.com/acme/shop.git", "main", None)
    bot.store.set_meta(github, REPO_META, dataclasses.asdict(repo))
    page = client.get(f"/pipelines/{github}").get_data(as_text=True)
    rerun = re.search(r'<button[^>]*data-role="rerun"[^>]*>', page)
    assert rerun and " disabled" not in rerun.group(0)
    assert "the newest commit of main" in rerun.group(0)
