"""The HTML pages as a browser without JavaScript gets them: the list, the tree, a
node; safe documentation; GitHub links; HTML errors; forms that work without JS."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from tests.pipelines import create_pipeline
from tests.web.conftest import Bot, csrf_of, record_run

TREE = """
[pipeline.main]
image = "busybox"
env = { MODE = "fast" }
[pipeline.main.lint]
parallel = true
[pipeline.main.lint.format]
run = "fmt --check"
[pipeline.main.test]
run = "pytest -q"
doc = '''
Runs the **unit tests**.

<script>alert("owned")</script> [a trap](javascript:alert(1)) [the guide](https://example.com/guide)
'''
[pipeline.main.release]
skip = true
run = "./release.sh"
"""
PR_7 = Event("pr", branch="fix-cart", pr="7", sha="0123456789abcdef", repo="acme/shop")


def text(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    return response.get_data(as_text=True)


def test_the_list_shows_each_pipeline_with_its_counts_and_pages(
    bot: Bot, client: FlaskClient
) -> None:
    first = create_pipeline(bot.store, TREE, PR_7)
    record_run(bot, first, "/lint/format", ["ok"])
    for _ in range(60):
        create_pipeline(bot.store, TREE)
    page = text(client, "/pipelines")
    assert page.count('<tr data-id="') == 50
    assert 'href="?page=2"' in page and "Page 1 of 2" in page
    older = text(client, "/pipelines?page=2")
    row = re.search(rf'<tr data-id="{first}".*?</tr>', older, re.S)
    assert row, "the first pipeline is on the second page"
    assert "PR #7" in row.group(0) and "0123456" in row.group(0)
    assert re.search(r'count-D"[^>]*>.*?<span class="n">1</span>', row.group(0), re.S)
    filtered = text(client, "/pipelines?repo=acme/shop")
    assert filtered.count('<tr data-id="') == 1
    assert '<option value="acme/shop" selected>' in filtered


def test_the_pipeline_page_draws_the_tree_with_states_and_links(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = create_pipeline(bot.store, TREE, PR_7)
    record_run(bot, pipeline_id, "/lint/format", ["bad"], state=State.ERROR, message="exited 3")
    page = text(client, f"/pipelines/{pipeline_id}")
    for path, state in [("/", "error"), ("/lint", "error"), ("/lint/format", "error"),
                        ("/test", "pending"), ("/release", "skipped")]:  # fmt: skip
        assert f'data-path="{path}" data-type=' in page
        assert re.search(rf'data-path="{re.escape(path)}"[^>]*data-state="{state}"', page), path
    assert "exited 3" in page and "skip = true in the config" in page
    assert 'href="https://github.com/acme/shop/pull/7"' in page
    assert 'href="https://github.com/acme/shop/commit/0123456789abcdef"' in page
    assert 'data-role="next-error"' in page and 'aria-label="Next error' in page
    assert f'href="/pipelines/{pipeline_id}/nodes/lint/format"' in page
    local = create_pipeline(bot.store, TREE, Event("push", branch="main", repo="sample-app"))
    assert "github.com" not in text(client, f"/pipelines/{local}")


def test_a_node_page_renders_its_doc_safely(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    page = text(client, f"/pipelines/{pipeline_id}/nodes/test")
    assert "<strong>unit tests</strong>" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert '<a href="https://example.com/guide">the guide</a>' in page
    assert "pytest -q" in page and "busybox" in page and "MODE" in page


def test_a_node_page_shows_its_executions_and_which_log(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    first = record_run(bot, pipeline_id, "/test", ["1 failed"], state=State.ERROR)
    bot.store.reset(pipeline_id, "/test")
    second = record_run(bot, pipeline_id, "/test", ["all passed"])
    page = text(client, f"/pipelines/{pipeline_id}/nodes/test")
    assert page.count('class="run state-') == 2
    assert f'data-execution="{second.id}"' in page and 'data-follow="true"' in page
    older = text(client, f"/pipelines/{pipeline_id}/nodes/test?execution={first.id}")
    assert f'data-execution="{first.id}"' in older and 'data-follow="false"' in older
    assert f"/executions/{first.id}/log.txt" in older


def test_an_exec_page_offers_its_command_to_edit_and_its_debug_command_to_copy(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    page = text(client, f"/pipelines/{pipeline_id}/nodes/test")
    form = re.search(r'<details class="edit-command".*?</details>', page, re.DOTALL)
    assert form, "an operator gets the edit form"
    assert f'action="/pipelines/{pipeline_id}/actions/reset"' in form.group(0)
    assert f'name="csrf_token" value="{csrf_of(client)}"' in form.group(0)
    assert '<textarea id="new-command" name="run"' in form.group(0)
    assert ">pytest -q</textarea>" in form.group(0)  # prefilled with the current command
    debug = f"ci-bot debug {pipeline_id} /test"
    assert f'<code data-role="debug-command">{debug}</code>' in page
    assert f'data-copy="{debug}"' in page
    parent = text(client, f"/pipelines/{pipeline_id}/nodes/lint")
    assert "edit-command" not in parent and "ci-bot debug" not in parent  # no command


def test_the_edit_form_resets_with_the_new_command_without_javascript(
    bot: Bot, client: FlaskClient
) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    record_run(bot, pipeline_id, "/test", ["1 failed"], state=State.ERROR)
    back = f"/pipelines/{pipeline_id}/nodes/test"
    form = {"csrf_token": csrf_of(client), "path": "/test", "next": back, "run": "pytest -x"}

    assert client.post(f"/pipelines/{pipeline_id}/actions/reset", data=form).location == back

    assert '<code data-role="command">pytest -x</code>' in text(client, back)
    record_run(bot, pipeline_id, "/test", ["all passed"])
    page = text(client, back)
    assert "Command changed by token-1: <code>pytest -q</code> → <code>pytest -x</code>" in page
    serial = {**form, "path": "/lint"}
    refused = client.post(f"/pipelines/{pipeline_id}/actions/reset", data=serial)
    assert refused.status_code == 409 and "only an Exec has a command" in refused.get_data(
        as_text=True
    )


def test_missing_things_get_an_html_404(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    for url in ("/pipelines/424242", f"/pipelines/{pipeline_id}/nodes/no/such/node",
                "/pipelines/99999999999999999999999"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.mimetype == "text/html"
        assert "Back to the pipelines" in response.get_data(as_text=True)


def test_forms_work_without_javascript(bot: Bot, client: FlaskClient) -> None:
    pipeline_id = create_pipeline(bot.store, TREE)
    csrf = csrf_of(client)
    back = f"/pipelines/{pipeline_id}/nodes/release"
    response = client.post(
        f"/pipelines/{pipeline_id}/actions/unskip",
        data={"csrf_token": csrf, "path": "/release", "next": back},
    )
    assert response.status_code == 302 and response.location == back
    assert bot.store.exec_states(pipeline_id)["/release"] == "pending"
    refused = client.post(
        f"/pipelines/{pipeline_id}/actions/unskip",
        data={"csrf_token": csrf, "path": "/release", "next": "https://evil.example"},
    )
    assert refused.status_code == 409 and "is not skipped" in refused.get_data(as_text=True)
    away = client.post(
        f"/pipelines/{pipeline_id}/actions/skip",
        data={"csrf_token": csrf, "path": "/release", "next": "https://evil.example"},
    )
    assert away.location == "/pipelines"
