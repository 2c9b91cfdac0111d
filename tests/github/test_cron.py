"""[[cron]] entries fire at their minute for repositories the bot has built, once each."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ci_bot.github.cron import CronTrigger, fire
from ci_bot.github.dispatch import JOB
from tests.github.conftest import MakeBot
from tests.github.support import official, retarget
from tests.gitrepos import make_bare_remote

CONFIG = """\
[[push]]
pipeline = "ci"

[[cron]]
schedule = "30 3 * * *"
pipeline = "nightly"

[[cron]]
schedule = "0 12 * * 1"
branch = "release"
pipeline = "nightly"

[pipeline.ci]
image = "busybox"
[pipeline.ci.a]
run = "a"

[pipeline.nightly]
image = "busybox"
[pipeline.nightly.slow]
run = "slow"
"""


def test_a_cron_entry_fires_once_at_its_minute(
    make_bot: MakeBot, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = make_bare_remote(tmp_path, {"conducto.cfg": CONFIG})
    push = retarget(official(fixtures_dir, "push/with-new-branch.payload.json"), url, sha)
    push["ref"] = "refs/heads/main"
    push["repository"]["default_branch"] = "main"
    bot = make_bot(mode="none")
    assert bot.deliver("push", push).status_code == 202
    bot.work()  # the bot now knows the repository
    [trigger] = [w for w in bot.services.background if isinstance(w, CronTrigger)]

    assert fire(trigger.bot, datetime(2026, 11, 28, 3, 29), JOB) == 0
    assert fire(trigger.bot, datetime(2026, 11, 28, 3, 30), JOB) == 1
    assert fire(trigger.bot, datetime(2026, 11, 28, 3, 30), JOB) == 0, "once per minute"
    bot.work()

    pipelines = bot.store.pipelines()
    assert [(p.event, p.branch) for p in pipelines] == [("cron", "main"), ("push", "main")]
    cron = pipelines[0]
    assert cron.sha == sha and cron.entry.startswith("[cron] #1")
    assert [n.path for n in bot.store.nodes(cron.id)] == ["/", "/slow"]


def test_a_cron_entry_for_a_missing_branch_fails_its_delivery_and_nothing_else(
    make_bot: MakeBot, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, sha = make_bare_remote(tmp_path, {"conducto.cfg": CONFIG})
    push = retarget(official(fixtures_dir, "push/with-new-branch.payload.json"), url, sha)
    push["ref"] = "refs/heads/main"
    push["repository"]["default_branch"] = "main"
    bot = make_bot(mode="none")
    bot.deliver("push", push)
    bot.work()
    [trigger] = [w for w in bot.services.background if isinstance(w, CronTrigger)]
    monday_noon = datetime(2026, 11, 30, 12, 0)  # the second entry builds "release"
    assert fire(trigger.bot, monday_noon, JOB) == 1
    bot.work()
    assert [p.event for p in bot.store.pipelines()] == ["push"]
    [delivery] = [d for d in bot.store.deliveries_with_status("failed") if d.id.startswith("cron:")]
    assert "release" in delivery.outcome
