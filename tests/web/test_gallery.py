"""The pages with many pipelines and every node state, in Chromium (no Docker: the
store holds what the test wrote): filters, the "e" key, folding, a large log read
whole but drawn only near the view, older attempts, names on every control;
screenshots at 1280 px, on a phone and in dark mode, for a person to look at."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from tests.pipelines import create_pipeline
from tests.web.conftest import TOKEN, Bot, record_run, screenshot

BIG = """
[pipeline.main]
image = "ci-bot/debian-python:bookworm"
[pipeline.main.lint]
parallel = true
[pipeline.main.lint.ruff]
run = "ruff check ."
[pipeline.main.lint.mypy]
run = "mypy --strict src"
[pipeline.main.lint.docs]
run = "python3 ci/check_docs.py"
[pipeline.main.build]
run = "python3 -m build --outdir $CI_DATA/dist"
[pipeline.main.test]
parallel = true
max_concurrent = 2
[pipeline.main.test.unit]
run = "pytest -q tests/unit"
retry = 1
doc = "Unit tests; retried once, since `test_clock` is known to flake."
[pipeline.main.test.integration]
run = "pytest -q tests/integration"
[pipeline.main.test.e2e]
run = "pytest -q tests/e2e"
[pipeline.main.test.browser]
image = "ci-bot/chromium:missing"
run = "pytest -q tests/browser"
[pipeline.main.sign]
run = "python3 ci/sign.py"
[pipeline.main.deploy]
run = "./deploy.sh"
when = "{branch} == main"
"""
SMALL = '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n[pipeline.main.b]\nrun = "b"\n'
PR_42 = Event("pr", branch="faster-checkout", pr="42", sha="9f8e7d6c5b4a", repo="acme/shop")


def fill_the_store(bot: Bot) -> int:
    """A few repositories' pipelines in every state, and one big one running; its id."""
    for repo, branch, state in [
        ("acme/api", "main", State.DONE),
        ("acme/shop", "main", State.DONE),
        ("acme/shop", "fix-tax", State.ERROR),
        ("acme/api", "release/2.0", State.DONE),
    ]:
        pipeline_id = create_pipeline(bot.store, SMALL, Event("push", branch=branch, repo=repo))
        record_run(bot, pipeline_id, "/a", ["ok"])
        record_run(bot, pipeline_id, "/b", ["exit 1"], state=state)
    cancelled = create_pipeline(bot.store, SMALL, Event("push", branch="main", repo="sample-app"))
    bot.store.cancel(cancelled)
    big = create_pipeline(bot.store, BIG, PR_42)
    for path in ("/lint/ruff", "/lint/mypy", "/build"):
        record_run(bot, big, path, ["all good"])
    record_run(
        bot, big, "/lint/docs", ["\x1b[31mdocs/api.md: broken link\x1b[0m"], state=State.ERROR
    )
    flaky = [f"\x1b[32mPASSED\x1b[0m tests/unit/test_{n:04d}.py::test_case" for n in range(6000)]
    record_run(bot, big, "/test/unit", ["test_clock FAILED"], state=State.ERROR)
    bot.store.reset(big, "/test/unit")
    record_run(bot, big, "/test/unit", flaky)
    record_run(bot, big, "/test/integration", ["collecting…", "test_orders"], finish=False)
    bot.store.queue(big, "/test/e2e", "/nonexistent")
    record_run(bot, big, "/test/browser", [], state=State.WORKER_ERROR, message="image is missing")
    return big


def sign_in(page: Any) -> None:
    page.goto("/sign-in")
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/pipelines")


def unnamed_controls(page: Any) -> list[str]:
    found: list[str] = page.evaluate(
        """() => Array.from(document.querySelectorAll("button, a, input, select"))
             .filter((e) => e.offsetParent !== null)
             .filter((e) => !((e.labels && e.labels.length) || e.getAttribute("aria-label")
                              || (e.innerText || "").trim()))
             .map((e) => e.outerHTML.slice(0, 80))"""
    )
    return found


def test_the_pages_with_many_pipelines_and_every_state(shown_bot: Bot, still_page: Any) -> None:
    page = still_page
    big = fill_the_store(shown_bot)
    sign_in(page)
    assert page.locator("tr[data-id]").count() == 6
    assert page.get_by_role("link", name="error 2").is_visible()  # a chip per state, counted
    assert unnamed_controls(page) == []
    screenshot(page, "gallery-list")
    page.get_by_label("Pull request").fill("42")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-id]")).to_have_count(1)

    page.goto(f"/pipelines/{big}")
    states = {
        path: page.locator(f'.tree .node[data-path="{path}"]').get_attribute("data-state")
        for path in ("/lint", "/test/unit", "/test/integration", "/test/e2e", "/deploy")
    }
    assert states == {
        "/lint": "error",
        "/test/unit": "done",
        "/test/integration": "running",
        "/test/e2e": "queued",
        "/deploy": "skipped",
    }
    assert page.locator('.node[data-path="/test/unit"] .attempts').first.inner_text() == "×2"
    assert unnamed_controls(page) == []
    screenshot(page, "gallery-pipeline")
    page.keyboard.press("e")
    assert page.evaluate("document.activeElement.closest('.node').dataset.path") == "/lint/docs"
    page.keyboard.press("e")
    assert page.evaluate("document.activeElement.closest('.node').dataset.path") == "/test/browser"
    page.get_by_role("button", name="Collapse all").click()
    expect(page.locator('.node[data-path="/lint/ruff"]')).to_be_hidden()
    page.get_by_role("button", name="Expand all").click()
    expect(page.locator('.node[data-path="/lint/ruff"]')).to_be_visible()

    page.goto(f"/pipelines/{big}/nodes/test/unit")
    expect(page.locator("#log")).to_have_attribute("data-whole", "true")  # no tail: every line
    expect(page.locator('[data-role="log-cut"]')).to_be_hidden()
    assert "test_5999.py" in page.locator("#log .line").last.inner_text()
    assert page.locator("#log .line").count() < 1000, "only lines near the view are drawn"
    assert page.locator('[data-role="executions"] .run').count() == 2
    screenshot(page, "gallery-node-large-log")
    page.get_by_role("link", name="Attempt 1").click()
    expect(page.locator("#log .line").first).to_contain_text("test_clock FAILED")
    assert page.locator("#log").get_attribute("data-follow") == "false"

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/pipelines/{big}")
    screenshot(page, "gallery-pipeline-phone")
    page.goto(f"/pipelines/{big}/nodes/test/integration")
    screenshot(page, "gallery-node-phone")


def test_dark_mode(browser: Any, shown_bot: Bot) -> None:
    big = fill_the_store(shown_bot)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=shown_bot.url, color_scheme="dark"
    )
    page = context.new_page()
    sign_in(page)
    page.goto(f"/pipelines/{big}")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    screenshot(page, "gallery-pipeline-dark")
    context.close()
