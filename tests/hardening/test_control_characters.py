"""Control characters from a repository never reach a terminal, a check run or Slack raw.

The defect this pins down: a branch named ``main<ESC>]0;pwned<BEL>`` retitled the
terminal of whoever ran ``ci-bot show``, and 18 of 18 check-run texts carried raw
ESC bytes.  One pure function, ``ci_bot.text.printable``, writes each control as a
visible escape; every sink uses it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ci_bot.cli import main
from ci_bot.console import LiveView, failure_report
from ci_bot.engine.runner import Engine
from ci_bot.executors.fake import FakeExecutor
from ci_bot.settings import Settings
from ci_bot.store.store import Store
from ci_bot.text import KEEP_LINES, printable
from ci_bot.tree.select import Event
from integrations.github.api import GitHubApi
from integrations.github.auth import PersonalToken
from integrations.github.checks import check_body
from integrations.github.client import GitHubClient
from integrations.github.stages import stage_reports
from integrations.github.statuses import short
from integrations.slack.client import SlackApi
from integrations.slack.mrkdwn import code_block, escape
from tests.fakes.github import FakeGitHub
from tests.fakes.slack import FakeSlack, SlackSpec
from tests.pipelines import create_pipeline
from tests.slack.support import GITHUB_TOKEN

RETITLE = "\x1b]0;pwned\x07"
BRANCH = f"main{RETITLE}"
# a node's log: a colour (fine), a title change, a cursor move and a C1 CSI (not fine)
LOG = f"\x1b[31mred\x1b[0m {RETITLE} \x1b[2J\x9b6n end\n"
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
TREE = """
[pipeline.main]
image = "x"
[pipeline.main.build]
run = "make"
"""


def failed_pipeline(data: Path) -> tuple[Store, int]:
    settings = Settings.from_env({}, data_dir=data)
    store = Store(settings.database_url)
    event = Event("push", branch=BRANCH, sha="a" * 40, repo="acme/app")
    pipeline_id = create_pipeline(store, TREE, event)
    fake = FakeExecutor().expect("/build", "error", output=LOG)
    Engine(store, fake, settings, poll_seconds=0.01).run_until_settled(pipeline_id)
    return store, pipeline_id


def test_printable_escapes_controls_visibly_and_keeps_what_a_sink_asks_for() -> None:
    assert printable(BRANCH) == "main\\x1b]0;pwned\\x07"
    assert printable("a\x9bb\u202ec\x00") == "a\\x9bb\\u202ec\\x00"
    assert printable("one\ntwo\tthree", keep=KEEP_LINES) == "one\ntwo\tthree"
    assert printable("one\ntwo") == "one\\x0atwo"
    assert printable(LOG, keep="\n", colours=True).startswith("\x1b[31mred\x1b[0m \\x1b]0;")
    assert "\\x1b[2J" in printable(LOG, colours=True)
    assert printable(printable(LOG)) == printable(LOG)  # once is enough; twice changes nothing
    assert printable("naïve ünïcode ✔ 🚀") == "naïve ünïcode ✔ 🚀"


def test_ci_bot_show_writes_no_control_character_from_a_branch_name(tmp_path: Path) -> None:
    store, pipeline_id = failed_pipeline(tmp_path / "data")
    store.engine.dispose()
    env = {"CI_BOT_DATA_DIR": str(tmp_path / "data")}
    shown = CliRunner().invoke(main, ["show", str(pipeline_id)], env=env)
    assert shown.exit_code == 0, shown.output
    assert not RAW.search(shown.output)
    assert "main\\x1b]0;pwned\\x07" in shown.output


def test_the_live_tree_keeps_only_its_own_colours_and_the_log_tail_only_the_nodes(
    tmp_path: Path,
) -> None:
    store, pipeline_id = failed_pipeline(tmp_path)
    screen = io.StringIO()
    LiveView(store, pipeline_id, screen, tty=True).update()
    drawn = screen.getvalue()
    ours = r"\x1b\[\??[0-9;]*[A-Za-z]"  # the view's own: colours, redraw, cursor
    assert "main\\x1b]0;pwned\\x07" in drawn
    assert not RAW.search(re.sub(ours, "", drawn))
    plain = io.StringIO()
    LiveView(store, pipeline_id, plain, tty=False).update()
    assert not RAW.search(plain.getvalue().replace("\n", ""))
    report = "\n".join(failure_report(store, pipeline_id))
    assert "\x1b[31mred\x1b[0m" in report  # the node's colours stay
    assert not RAW.search(re.sub(r"\x1b\[[0-9;]*m", "", report).replace("\n", ""))


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def test_check_runs_statuses_and_comments_carry_no_raw_control_character(
    tmp_path: Path, fake_github: FakeGitHub
) -> None:
    store, pipeline_id = failed_pipeline(tmp_path)
    settings = Settings.from_env({}, data_dir=tmp_path)
    [report] = stage_reports(store, settings, pipeline_id, mask=lambda text: text)
    body = check_body(report)
    assert "\\x1b]0;pwned\\x07" in body["output"]["text"]  # shown, not obeyed
    api = GitHubApi(GitHubClient(fake_github.url), PersonalToken(GITHUB_TOKEN))
    api.create_check_run("acme/app", 1, {**body, "name": f"ci/{BRANCH}", "head_sha": "a" * 40})
    api.create_status("acme/app", 1, "a" * 40, {"state": "failure", "description": short(LOG)})
    api.comment("acme/app", 1, 2, f"branch {BRANCH} failed")
    sent = [text for call in fake_github.calls for text in strings(call.body)]
    assert len(fake_github.calls) == 3 and sent
    assert not any(RAW.search(text) for text in sent)


def test_slack_texts_carry_no_raw_control_character(fixtures_dir: Path) -> None:
    assert escape(BRANCH) == "main\\x1b]0;pwned\\x07"
    block = code_block(LOG.splitlines(), 2000)
    assert "red" in block and "\x1b" not in block  # Slack cannot show colours: they go
    fake = FakeSlack(SlackSpec(fixtures_dir), "xoxb-test-token", channels=("ci",)).start()
    try:
        slack = SlackApi("xoxb-test-token", fake.url)
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{BRANCH}*"}}]
        slack.post("#ci", f"pipeline on {BRANCH}", blocks)
    finally:
        fake.stop()
    assert not fake.problems
    [call] = fake.calls
    assert not any(RAW.search(text) for text in strings(dict(call.params)))


@pytest.mark.parametrize("name", [BRANCH, "x\u202egnp.exe", "bell\x07", "c1\x9b31m"])
def test_every_kind_of_control_comes_out_visible(name: str) -> None:
    assert not RAW.search(printable(name))
