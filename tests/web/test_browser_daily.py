"""Daily use in a real browser (Debian's Chromium, driven by Playwright) against a bot
running real pipelines in Docker: the list shows a pipeline started after it loaded
and follows its states; a 50 000-line log is searched and linked to line by line;
artifacts, signed by the engine, are listed and downloaded; buttons are enabled only
where their action applies, and destructive ones ask first; a repository is run by
hand and a pipeline run again.

Each test leaves screenshots in artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker import DockerClient
from playwright.sync_api import expect

from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.images import BUSYBOX_IMAGE
from ci_bot.github.events import Repo
from ci_bot.github.launching import REPO_META
from ci_bot.tree.select import Event
from tests.gitrepos import make_bare_remote
from tests.web.conftest import TOKEN, Bot, make_bot, open_page, running, screenshot, wait_for

pytestmark = pytest.mark.docker

PUSH_MAIN = Event("push", branch="main", repo="acme/shop")


@pytest.fixture
def daily_bot(tmp_path: Path, docker_engine: DockerClient, busybox_image: str) -> Iterator[Bot]:
    """The live bot, with an ed25519 key to sign artifacts with and file:// clones allowed
    (the tests' "GitHub" repositories are bare repositories on disk)."""
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    made = make_bot(
        tmp_path,
        DockerExecutor(docker_engine),
        max_parallel=4,
        signing_key=key,
        allow_local_clones=True,
    )
    with running(made, docker_engine):
        yield made


@pytest.fixture
def page(browser: Any, daily_bot: Bot) -> Iterator[Any]:
    yield from open_page(browser, daily_bot)


def sign_in(page: Any, path: str = "/pipelines") -> None:
    page.goto(path)
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")


def config(*nodes: str) -> str:
    """A push pipeline of these ``[pipeline.ci.NAME]`` tables, in the busybox image."""
    return f'[push]\npipeline = "ci"\n\n[pipeline.ci]\nimage = "{BUSYBOX_IMAGE}"\n' + "".join(nodes)


FAILING = config(
    '[pipeline.ci.lint]\nrun = "echo linted"\n',
    "[pipeline.ci.test]\nrun = \"sleep 5; echo 'expected 3, got 4'; exit 3\"\n",
    '[pipeline.ci.deploy]\nrun = "echo deployed"\n',
)


def test_a_pipeline_started_after_the_list_loaded_appears_and_follows_its_states(
    daily_bot: Bot, page: Any
) -> None:
    sign_in(page)
    page.evaluate("window.stillTheSamePage = true")
    expect(page.locator('[data-role="list-empty"]')).to_be_visible()

    pipeline_id = daily_bot.launch(daily_bot.repo({"conducto.cfg": FAILING}), PUSH_MAIN)
    row = page.locator(f'tr[data-id="{pipeline_id}"]')
    expect(row).to_be_visible(timeout=30_000)
    expect(row).to_have_attribute("data-state", re.compile("pending|queued|running"))
    expect(row).to_have_attribute("data-state", "error", timeout=60_000)
    failed = row.locator('[data-role="failed-nodes"]')
    expect(failed).to_contain_text("/test")
    assert failed.get_by_role("link", name="/test").get_attribute("href") == (
        f"/pipelines/{pipeline_id}/nodes/test"
    )
    created = row.locator(".c-created time")
    expect(created).to_have_text(re.compile(r"just now|ago"))
    assert re.search(r"20\d\d", created.get_attribute("title") or ""), "the full local time"
    expect(row.locator('[data-role="run-time"]')).to_have_text(re.compile(r"^\d+s$"))
    expect(page.locator('[data-role="chips"]')).to_contain_text("error")
    assert page.evaluate("window.stillTheSamePage === true"), "the page reloaded"
    screenshot(page, "daily-list-live")


FIFTY_THOUSAND = config(
    """[pipeline.ci.build]
run = '''
awk 'BEGIN {
  for (i = 1; i <= 50000; i++) {
    if (i == 1234) print "needle: the cart total was 41, not 42"
    else printf "compiling module %05d\\n", i
  }
}'
'''
"""
)


def number_of(log_text: str, words: str) -> int:
    """The number of the first line of a log file holding ``words``, as the page counts."""
    lines = log_text.splitlines()
    return next(n for n, line in enumerate(lines, start=1) if words in line)


def test_a_long_log_is_searched_whole_and_linked_line_by_line(daily_bot: Bot, page: Any) -> None:
    pipeline_id = daily_bot.launch(daily_bot.repo({"conducto.cfg": FIFTY_THOUSAND}), PUSH_MAIN)
    assert daily_bot.wait_settled(pipeline_id, timeout=120) == "done"
    [run] = daily_bot.store.executions(pipeline_id, "/build")
    text = Path(run.log_path).read_text()
    needle = number_of(text, "needle:")
    assert len(text.splitlines()) - needle > 45_000, "the needle is far outside the last 5 000"

    sign_in(page, f"/pipelines/{pipeline_id}/nodes/build")
    log = page.locator("#log")
    expect(log).to_have_attribute("data-whole", "true", timeout=30_000)
    expect(log.locator(".line").last).to_contain_text("compiling module 50000")
    assert log.locator(".line").count() < 2_000, "only lines near the view are drawn"

    page.get_by_label("Search the log").fill("cart total")
    expect(page.locator('[data-role="log-matches"]')).to_have_text("1 of 1")
    current = log.locator(".line.current")
    expect(current).to_have_attribute("data-n", str(needle))
    expect(current).to_be_in_viewport()
    assert current.locator("mark").inner_text() == "cart total"
    screenshot(page, "daily-log-search")

    page.get_by_label("Search the log").fill("module 4999")  # 49990 … 49999
    expect(page.locator('[data-role="log-matches"]')).to_have_text(re.compile(r"of 10$"))
    first = log.locator(".line.current").get_attribute("data-n")
    page.get_by_role("button", name="Next match").click()
    expect(log.locator(".line.current")).not_to_have_attribute("data-n", first or "")
    page.get_by_role("button", name="Previous match").click()
    expect(log.locator(".line.current")).to_have_attribute("data-n", first or "")

    page.goto(f"/pipelines/{pipeline_id}/nodes/build#L{needle}")
    target = log.locator(f'.line.target[data-n="{needle}"]')
    expect(target).to_contain_text("needle: the cart total")
    expect(target).to_be_in_viewport()
    screenshot(page, "daily-log-permalink")

    log.locator(f'.line[data-n="{needle + 3}"] a.ln').click()  # a line's own link
    assert page.url.endswith(f"?execution={run.id}#L{needle + 3}"), page.url
    expect(log.locator(".line.target")).to_have_attribute("data-n", str(needle + 3))

    wrap = page.get_by_role("button", name="Wrap")
    expect(wrap).to_have_attribute("aria-pressed", "true")
    wrap.click()
    expect(wrap).to_have_attribute("aria-pressed", "false")
    assert "wrap" not in (log.get_attribute("class") or "")
    follow = page.get_by_role("button", name="Follow")
    expect(follow).to_be_disabled()  # a finished log has nothing to follow
    assert page.locator('[data-role="log-status"]').inner_text() == "", "not live once finished"


SIGNED = config(
    """[pipeline.ci.build]
run = '''
mkdir -p "$CI_DATA/dist"
echo "the shop, built" > "$CI_DATA/dist/shop.txt"
echo "12 passed" > "$CI_DATA/report.txt"
'''
sign = ["dist/*"]
"""
)


def test_artifacts_are_listed_with_their_signatures_and_download(daily_bot: Bot, page: Any) -> None:
    pipeline_id = daily_bot.launch(daily_bot.repo({"conducto.cfg": SIGNED}), PUSH_MAIN)
    sign_in(page, f"/pipelines/{pipeline_id}")
    card = page.locator('[data-role="artifacts"]')
    row = card.locator('tr[data-path="dist/shop.txt"]')
    expect(row).to_be_visible(timeout=60_000)  # it appears when the node ends, no reload
    expect(card.locator('tr[data-path="report.txt"]')).to_be_visible()
    assert card.locator("tr[data-path]").count() == 2, "signatures sit beside their file"
    expect(row.locator(".size")).to_have_text("16 Bytes")
    # Signed once the node ended, a moment after the file appeared: the card catches up.
    expect(row.get_by_role("link", name="signature")).to_be_visible(timeout=60_000)
    expect(row.locator('[data-role="provenance"]')).to_contain_text("/build")
    expect(row.locator('[data-role="provenance"]')).to_contain_text("SHA256:")
    screenshot(page, "daily-artifacts")

    with page.expect_download() as started:
        row.get_by_role("link", name="dist/shop.txt").click()
    download = started.value
    assert download.suggested_filename == "shop.txt"
    assert Path(download.path()).read_text() == "the shop, built\n"
    with page.expect_download() as started:
        row.get_by_role("link", name="provenance").click()
    assert '"node_path": "/build"' in Path(started.value.path()).read_text()


SLOW = config(
    '[pipeline.ci.build]\nrun = "i=0; while [ $i -lt 600 ]; do echo tick $i; i=$((i+1)); '
    'sleep 0.1; done"\n',
    '[pipeline.ci.publish]\nrun = "echo published"\n',
)


def test_buttons_apply_where_they_can_and_destructive_ones_ask_first(
    daily_bot: Bot, page: Any
) -> None:
    pipeline_id = daily_bot.launch(daily_bot.repo({"conducto.cfg": SLOW}), PUSH_MAIN)
    wait_for(
        lambda: daily_bot.store.exec_states(pipeline_id).get("/build") == "running", "the build"
    )
    sign_in(page, f"/pipelines/{pipeline_id}/nodes/publish")
    expect(page.get_by_role("button", name="Skip", exact=True)).to_be_enabled()  # still pending
    expect(page.get_by_role("button", name="Reset", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Unskip")).to_be_disabled()
    page.goto(f"/pipelines/{pipeline_id}/nodes/build")
    expect(
        page.get_by_role("button", name="Skip", exact=True)
    ).to_be_disabled()  # running, not pending
    expect(page.locator('[data-role="log-status"]')).to_have_text("● live")
    expect(page.get_by_role("button", name="Follow")).to_have_attribute("aria-pressed", "true")
    tree, log = page.locator(".tree-side"), page.locator("#log")
    assert tree.bounding_box()["x"] + tree.bounding_box()["width"] <= log.bounding_box()["x"]
    screenshot(page, "daily-node-running")

    page.goto(f"/pipelines/{pipeline_id}")
    cancel = page.get_by_role("button", name="Cancel")
    expect(cancel).to_be_enabled()
    expect(page.get_by_role("button", name="Rerun failed")).to_be_disabled()
    cancel.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Cancel pipeline {pipeline_id}?")
    screenshot(page, "daily-confirm-cancel")
    dialog.get_by_role("button", name="Go back").click()
    expect(dialog).to_be_hidden()
    assert daily_bot.store.pipeline(pipeline_id).cancel_requested is False, "nothing was asked"

    cancel.click()
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator('[data-role="pipeline-state"]')).to_have_attribute(
        "data-state", "cancelled", timeout=60_000
    )
    expect(cancel).to_be_disabled()
    rerun_failed = page.get_by_role("button", name="Rerun failed")
    expect(rerun_failed).to_be_enabled()  # a cancel is not the end
    screenshot(page, "daily-cancelled")
    rerun_failed.click()
    expect(page.locator('[data-role="pipeline-state"]')).to_have_attribute(
        "data-state", re.compile("pending|queued|running"), timeout=30_000
    )
    expect(cancel).to_be_enabled()


def test_a_repository_is_run_by_hand_and_a_pipeline_run_again(
    daily_bot: Bot, page: Any, tmp_path: Path
) -> None:
    url, sha = make_bare_remote(
        tmp_path, {"conducto.cfg": config('[pipeline.ci.a]\nrun = "true"\n')}
    )
    known = daily_bot.launch(daily_bot.repo({"conducto.cfg": FAILING}), PUSH_MAIN)
    repo = Repo("acme/shop", url, "main", None)  # as a webhook once brought it
    daily_bot.store.set_meta(known, REPO_META, dataclasses.asdict(repo))

    sign_in(page)
    page.get_by_text("Run a pipeline").click()
    form = page.locator('[data-role="run-form"]')
    form.get_by_label("Repository").select_option("acme/shop")
    form.get_by_label("Branch").fill("main")
    screenshot(page, "daily-run-form")
    form.get_by_role("button", name="Run").click()
    page.wait_for_url(re.compile(r"/pipelines/\d+$"), timeout=60_000)
    started = int(page.url.rsplit("/", 1)[1])
    daily_bot.launched.append(started)
    expect(page.locator('[data-role="origin"]')).to_have_text("Started by hand by token-1")
    assert daily_bot.store.pipeline(started).sha == sha
    expect(page.locator('[data-role="pipeline-state"]')).to_have_attribute(
        "data-state", "done", timeout=60_000
    )

    page.get_by_role("button", name="Rerun", exact=True).click()
    page.wait_for_url(lambda url: not url.endswith(f"/pipelines/{started}"), timeout=60_000)
    again = int(page.url.rsplit("/", 1)[1])
    daily_bot.launched.append(again)
    assert again != started
    expect(page.locator('[data-role="origin"]')).to_contain_text(f"Rerun of pipeline {started}")
    assert daily_bot.wait_settled(again) == "done"
    screenshot(page, "daily-rerun")
