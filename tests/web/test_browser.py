"""The UI in a real browser (Debian's Chromium, driven by Playwright) against a bot
running real pipelines in Docker: find the failure, read its log, reset it, and
watch the pipeline finish without a reload; follow a log live; cancel; unskip.

Each test leaves screenshots in artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from ci_bot.executors.images import BUSYBOX_IMAGE
from ci_bot.tree.select import Event
from tests.web.conftest import TOKEN, Bot, screenshot, wait_for

pytestmark = pytest.mark.docker

PUSH_MAIN = Event("push", branch="main", repo="acme/shop")

FLAKY_TEST = r"""
printf '\033[1mcollecting tests\033[0m\n'
if [ -e "$CI_DATA/attempted" ]; then
  printf 'test_cart ... \033[32mok\033[0m\n'
  printf '\033[32mall 12 tests passed\033[0m\n'
  exit 0
fi
touch "$CI_DATA/attempted"
printf 'test_cart ... \033[32mok\033[0m\n'
printf '\033[38;5;208mwarning: test_cart took 2s\033[0m\n'
printf 'test_checkout ... \033[31mFAILED: expected 3 items, got 4\033[0m\n'
exit 3
"""

SHOP = f"""
[push]
pipeline = "ci"

[pipeline.ci]
image = "{BUSYBOX_IMAGE}"
env = {{ LANG = "C.UTF-8" }}

[pipeline.ci.lint]
parallel = true
[pipeline.ci.lint.format]
run = "echo 'all files formatted'"
[pipeline.ci.lint.types]
run = "echo 'no type errors'"

[pipeline.ci.test]
run = "sh ci/test.sh"
doc = "Runs the **unit tests**. See `ci/test.sh`; it fails once, on purpose."

[pipeline.ci.deploy]
run = "echo deployed"
"""


def sign_in(page: Any, path: str = "/pipelines") -> None:
    page.goto(path)
    assert "/sign-in" in page.url, "an unauthenticated visit must land on the sign-in page"
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")


def node_state(page: Any, path: str) -> str:
    state: str = page.locator(f'.tree .node[data-path="{path}"]').get_attribute("data-state")
    return state


def test_find_the_failure_read_its_log_reset_it_and_watch_it_finish(
    live_bot: Bot, page: Any
) -> None:
    repo = live_bot.repo({"conducto.cfg": SHOP, "ci/test.sh": FLAKY_TEST})
    pipeline_id = live_bot.launch(repo, PUSH_MAIN)
    assert live_bot.wait_settled(pipeline_id) == "error"

    sign_in(page)
    row = page.locator(f'tr[data-id="{pipeline_id}"]')
    assert row.get_attribute("data-state") == "error"
    screenshot(page, "pipelines-list")

    row.locator(".pipeline-link").click()
    page.wait_for_url(f"**/pipelines/{pipeline_id}")
    assert node_state(page, "/lint/format") == "done"
    assert node_state(page, "/deploy") == "pending"  # behind the failure, waiting
    screenshot(page, "pipeline-failed")

    page.get_by_role("button", name="Next error").click()
    failed = page.locator('.tree .node[data-path="/test"]')
    assert "highlight" in (failed.get_attribute("class") or "")
    focused = page.evaluate("document.activeElement.closest('.node').dataset.path")
    assert focused == "/test"
    page.keyboard.press("Enter")  # follow the focused link to the node
    page.wait_for_url(f"**/pipelines/{pipeline_id}/nodes/test")

    log = page.locator("#log")
    failure = log.locator(".line", has_text="FAILED: expected 3 items, got 4")
    failure.wait_for()
    assert failure.locator(".ansi-fg-1").count() == 1, "the red ANSI text is shown in red"
    orange = log.locator(".line", has_text="warning: test_cart took 2s").locator("span[style]")
    assert "rgb(255, 135, 0)" in orange.evaluate("span => getComputedStyle(span).color")
    assert "\x1b" not in log.inner_text()
    assert page.locator(".doc strong").inner_text() == "unit tests"
    screenshot(page, "node-failed")

    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("button", name="Reset").click()
    page.get_by_role("dialog").get_by_role("button", name="Reset").click()  # yes, reset it
    badge = page.locator('[data-role="node-state"]')
    expect(page.locator('[data-role="pipeline-state"]')).to_have_attribute(
        "data-state", "done", timeout=60_000
    )
    assert badge.get_attribute("data-state") == "done"
    log.locator(".line", has_text="all 12 tests passed").wait_for()
    assert page.locator('[data-role="executions"] .run').count() == 2
    assert page.evaluate("window.stillTheSamePage === true"), "the page reloaded"
    assert live_bot.store.pipeline(pipeline_id).state.value == "done"
    screenshot(page, "node-reset-done")

    page.goto(f"/pipelines/{pipeline_id}")
    assert node_state(page, "/deploy") == "done"
    assert page.locator('[data-role="counts"] .count-E .n').inner_text() == "0"
    screenshot(page, "pipeline-done")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "pipeline-done-phone")
    page.goto("/pipelines")
    screenshot(page, "pipelines-list-phone")


TICKING = f"""
[push]
pipeline = "ci"

[pipeline.ci]
image = "{BUSYBOX_IMAGE}"

[pipeline.ci.build]
run = '''
i=1
while [ $i -le 600 ]; do echo "compiling module $i"; i=$((i + 1)); sleep 0.1; done
'''

[pipeline.ci.publish]
run = "echo published"
"""


def test_a_running_log_is_followed_live_and_cancel_stops_the_pipeline(
    live_bot: Bot, page: Any
) -> None:
    repo = live_bot.repo({"conducto.cfg": TICKING})
    pipeline_id = live_bot.launch(repo, PUSH_MAIN)
    wait_for(
        lambda: live_bot.store.exec_states(pipeline_id).get("/build") == "running", "the build"
    )

    sign_in(page, f"/pipelines/{pipeline_id}/nodes/build")
    log = page.locator("#log")
    log.locator(".line", has_text="compiling module").first.wait_for()
    seen = log.locator(".line").count()
    page.evaluate("window.stillTheSamePage = true")
    expect(log.locator(".line").nth(seen + 5)).to_be_attached()
    assert live_bot.store.pipeline(pipeline_id).finished_at is None, "it was live, not replayed"
    screenshot(page, "node-running-live")

    lister = page.context.new_page()  # the list, open beside it, follows by itself
    lister.goto("/pipelines")
    row = f'tr[data-id="{pipeline_id}"]'
    assert lister.locator(row).get_attribute("data-state") == "running"
    lister.evaluate("window.stillTheSamePage = true")

    page.get_by_role("link", name=f"Pipeline {pipeline_id}", exact=True).first.click()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()  # yes, cancel it
    expect(page.locator('[data-role="pipeline-state"]')).to_have_attribute(
        "data-state", "cancelled", timeout=60_000
    )
    assert page.locator('.tree .node[data-path="/publish"]').get_attribute("data-state") in (
        "cancelled",
        "pending",
    )
    assert live_bot.wait_settled(pipeline_id) == "cancelled"
    assert live_bot.store.executions(pipeline_id, "/publish") == []
    screenshot(page, "pipeline-cancelled")
    expect(lister.locator(row)).to_have_attribute("data-state", "cancelled", timeout=10_000)
    assert lister.evaluate("window.stillTheSamePage === true")


GATED = f"""
[push]
pipeline = "ci"

[pipeline.ci]
image = "{BUSYBOX_IMAGE}"

[pipeline.ci.check]
run = "echo checked"

[pipeline.ci.release]
skip = true
doc = "The release gate: **unskip** it to publish."
run = "echo released"
"""


def test_unskipping_a_gate_runs_it(live_bot: Bot, page: Any) -> None:
    repo = live_bot.repo({"conducto.cfg": GATED})
    pipeline_id = live_bot.launch(repo, PUSH_MAIN)
    assert live_bot.wait_settled(pipeline_id) == "done"
    assert live_bot.store.exec_states(pipeline_id)["/release"] == "skipped"

    sign_in(page, f"/pipelines/{pipeline_id}/nodes/release")
    assert page.locator('[data-role="node-state"]').get_attribute("data-state") == "skipped"
    assert "skip = true in the config" in page.locator('[data-role="skip-reason"]').inner_text()
    assert page.get_by_role("link", name="Download").is_hidden()  # no log yet
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("button", name="Unskip").click()
    page.locator("#log .line", has_text="released").wait_for(timeout=60_000)
    expect(page.locator('[data-role="node-state"]')).to_have_attribute("data-state", "done")
    assert page.evaluate("window.stillTheSamePage === true")
    assert page.locator('[data-role="skip-reason"]').is_hidden()
    download = page.get_by_role("link", name="Download")
    [run] = live_bot.store.executions(pipeline_id, "/release")
    assert run.state.value == "done"
    assert (
        download.get_attribute("href")
        == f"/api/pipelines/{pipeline_id}/executions/{run.id}/log.txt"
    )
    assert live_bot.wait_settled(pipeline_id) == "done"
    screenshot(page, "node-unskipped")


TYPO = f"""
[push]
pipeline = "ci"

[pipeline.ci]
image = "{BUSYBOX_IMAGE}"

[pipeline.ci.greet]
run = "ech0 'hello, world'"
"""


def test_editing_a_command_resets_the_node_with_it(live_bot: Bot, page: Any) -> None:
    repo = live_bot.repo({"conducto.cfg": TYPO})
    pipeline_id = live_bot.launch(repo, PUSH_MAIN)
    assert live_bot.wait_settled(pipeline_id) == "error"  # sh: ech0: not found

    sign_in(page, f"/pipelines/{pipeline_id}/nodes/greet")
    debug = f"ci-bot debug {pipeline_id} /greet"
    expect(page.locator('[data-role="debug-command"]')).to_have_text(debug)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#notice")).to_have_text(f"Copied: {debug}")
    assert page.evaluate("navigator.clipboard.readText()") == debug
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_text("Edit command and reset").click()
    editor = page.get_by_role("textbox", name="The command this node runs")
    assert editor.input_value() == "ech0 'hello, world'"
    editor.fill("echo 'hello, world'")
    screenshot(page, "node-edit-command")
    page.get_by_role("button", name="Reset with this command").click()

    page.locator("#log .line", has_text="hello, world").wait_for(timeout=60_000)
    expect(page.locator('[data-role="node-state"]')).to_have_attribute("data-state", "done")
    expect(page.locator('[data-role="command"]')).to_have_text("echo 'hello, world'")
    change = page.locator('[data-role="executions"] [data-role="command-change"]')
    expect(change).to_have_text(
        "Command changed by token-1: ech0 'hello, world' → echo 'hello, world'"
    )
    assert page.evaluate("window.stillTheSamePage === true"), "the page reloaded"
    assert live_bot.wait_settled(pipeline_id) == "done"
    screenshot(page, "node-command-changed")
