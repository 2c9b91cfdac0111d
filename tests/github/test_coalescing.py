"""Deliveries queued for one repository are handled together: one ``git fetch`` serves
them all, each still gets its own pipeline and outcome; a fetch that fails fails only
the deliveries it concerns, and a crash half-way leaves the rest queued in the store."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ci_bot.engine import launch_facts
from ci_bot.github import dispatch
from tests.github.conftest import Bot, MakeBot
from tests.gitrepos import make_bare_remote, push_files

CONFIG = (
    '[push]\npipeline = "ci"\n[pipeline.ci]\nimage = "alpine"\n[pipeline.ci.test]\nrun = "true"\n'
)


def push(url: str, name: str, before: str, after: str) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "repository": {"full_name": name, "clone_url": url, "default_branch": "main"},
        "pusher": {"name": "dev"},
        "sender": {"login": "dev"},
    }


def pull_request(url: str, name: str, number: int, sha: str) -> dict[str, Any]:
    repo = {"full_name": name, "clone_url": url, "default_branch": "main"}
    return {
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number,
            "draft": False,
            "user": {"login": "dev"},
            "head": {"sha": sha, "ref": "feature", "repo": {"full_name": name}},
            "base": {"ref": "main", "repo": repo},
        },
        "repository": repo,
    }


def remote_with_commits(tmp_path: Path, count: int) -> tuple[str, list[str]]:
    url, first = make_bare_remote(tmp_path, {"conducto.cfg": CONFIG})
    shas = [first]
    for number in range(1, count):
        shas.append(push_files(url, {"version.txt": f"{number}\n"}, f"change {number}"))
    return url, shas


def push_each(bot: Bot, url: str, shas: list[str], *, forced: int | None = None) -> list[int]:
    """Each commit pushed on top of the one before it, delivered as ``d0``, ``d1``…;
    the push at index ``forced`` comes from a commit the mirror never had (a force-push,
    measured as a new branch).  The HTTP status of each answer."""
    statuses = []
    for index, sha in enumerate(shas):
        before = shas[index - 1] if index else "0" * 40
        if index == forced:
            before = "f" * 40
        response = bot.deliver("push", push(url, "acme/app", before, sha), delivery=f"d{index}")
        statuses.append(response.status_code)
    return statuses


def mirror_fetches(caplog: pytest.LogCaptureFixture) -> int:
    """``git fetch`` processes run into a mirror (``run_git`` logs each one it starts)."""
    return sum(1 for r in caplog.records if r.getMessage().startswith("git fetch --prune"))


def test_ten_queued_pushes_to_one_repository_take_one_fetch_and_launch_ten_pipelines(
    make_bot: MakeBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, shas = remote_with_commits(tmp_path, 10)
    bot = make_bot(mode="none")
    assert push_each(bot, url, shas) == [202] * 10
    caplog.set_level(logging.INFO)
    bot.work()
    assert mirror_fetches(caplog) == 1
    launched = [bot.store.delivery(f"d{index}") for index in range(10)]
    assert [d.status for d in launched] == ["handled"] * 10
    assert all("launched for push at" in d.outcome for d in launched)
    pipelines = [
        bot.store.pipeline(pid) for pid in bot.store.pipelines_with_meta("github_repo", "acme/app")
    ]
    assert sorted(p.sha for p in pipelines) == sorted(shas)


def test_queued_pushes_read_their_commits_and_changes_together_each_its_own(
    make_bot: MakeBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, shas = remote_with_commits(tmp_path, 6)
    bot = make_bot(mode="none")
    push_each(bot, url, shas, forced=3)
    caplog.set_level(logging.DEBUG, logger="ci_bot")
    bot.work()
    started = [r.getMessage().split(" (in ")[0] for r in caplog.records]
    assert sum(m.startswith("git cat-file --batch") for m in started) == 1
    assert sum(m.startswith("git diff-tree") for m in started) == 1
    alone = [m for m in started if m.startswith("git diff --name-only")]
    assert alone == [f"git diff --name-only --no-renames -z {'f' * 40} {shas[3]}"]
    changes = {}
    for pipeline_id in bot.store.pipelines_with_meta("github_repo", "acme/app"):
        pipeline = bot.store.pipeline(pipeline_id)
        facts = launch_facts.facts_dir(Path(pipeline.source_dir))
        changes[pipeline.sha] = json.loads((facts / "changes.json").read_text())
    assert [changes[sha]["base_sha"] for sha in shas] == ["", *shas[:2], "", *shas[3:5]]
    assert [changes[shas[n]]["files"] for n in (1, 2, 4, 5)] == [["version.txt"]] * 4
    assert changes[shas[0]]["no_base"] and changes[shas[3]]["no_base"]


def test_a_later_batch_fetches_again_for_what_was_pushed_since(
    make_bot: MakeBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, shas = remote_with_commits(tmp_path, 1)
    bot = make_bot(mode="none")
    bot.deliver("push", push(url, "acme/app", "0" * 40, shas[0]), delivery="first")
    bot.work()
    newer = push_files(url, {"version.txt": "2\n"}, "newer")
    bot.deliver("push", push(url, "acme/app", shas[0], newer), delivery="second")
    caplog.set_level(logging.INFO)
    bot.work()
    assert mirror_fetches(caplog) == 1
    assert "launched for push at " + newer[:12] in bot.store.delivery("second").outcome


def test_a_failing_fetch_fails_only_the_deliveries_it_concerns(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    """A pull request whose ref the remote lacks makes the one fetch for all fail: each
    delivery then fetches its own refs, so the pushes beside it still launch."""
    url, shas = remote_with_commits(tmp_path, 3)
    bot = make_bot(mode="none")
    bot.deliver("push", push(url, "acme/app", "0" * 40, shas[0]), delivery="push-0")
    bot.deliver("pull_request", pull_request(url, "acme/app", 77, shas[2]), delivery="pr-77")
    bot.deliver("push", push(url, "acme/app", shas[0], shas[1]), delivery="push-1")
    bot.work()
    assert bot.store.delivery("push-0").status == "handled"
    assert bot.store.delivery("push-1").status == "handled"
    failed = bot.store.delivery("pr-77")
    assert failed.status == "failed" and "could not fetch acme/app" in failed.outcome


def test_an_unreachable_repository_fails_its_deliveries_and_not_another_repositorys(
    make_bot: MakeBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, shas = remote_with_commits(tmp_path, 1)
    gone = (tmp_path / "gone.git").as_uri()
    bot = make_bot(mode="none")
    for number in range(3):
        bot.deliver("push", push(gone, "acme/gone", "0" * 40, shas[0]), delivery=f"gone-{number}")
    bot.deliver("push", push(url, "acme/app", "0" * 40, shas[0]), delivery="app")
    caplog.set_level(logging.INFO)
    bot.work()
    assert [bot.store.delivery(f"gone-{n}").status for n in range(3)] == ["failed"] * 3
    assert bot.store.delivery("app").status == "handled"
    assert mirror_fetches(caplog) == 2  # a failed fetch is not tried again for its batch


def test_a_crash_half_way_through_a_batch_leaves_the_rest_received_for_the_next_start(
    make_bot: MakeBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, shas = remote_with_commits(tmp_path, 4)
    bot = make_bot(mode="none")
    push_each(bot, url, shas)
    handled = 0
    perform = dispatch.perform

    def dies_on_the_third(*args: Any) -> Any:
        nonlocal handled
        handled += 1
        if handled == 3:
            raise SystemExit("the process is killed")
        return perform(*args)

    monkeypatch.setattr(dispatch, "perform", dies_on_the_third)
    with pytest.raises(SystemExit):
        bot.work()  # the queue logs a failing job; a dying process it cannot stop
    statuses = [bot.store.delivery(f"d{n}").status for n in range(4)]
    assert statuses == ["handled", "handled", "received", "received"]
    monkeypatch.setattr(dispatch, "perform", perform)
    restarted = make_bot(mode="none")
    assert dispatch.resubmit(restarted.store, restarted.services.queue) == 2
    restarted.work()
    assert [restarted.store.delivery(f"d{n}").status for n in range(4)] == ["handled"] * 4


def test_a_launch_and_its_deliverys_outcome_are_one_write_so_a_kill_launches_nothing_twice(
    make_bot: MakeBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, shas = remote_with_commits(tmp_path, 2)
    bot = make_bot(mode="none")
    push_each(bot, url, shas)
    launched = bot.store.create_pipeline

    def dies_right_after(*args: Any, **kwargs: Any) -> int:
        launched(*args, **kwargs)
        raise SystemExit("the process is killed right after the pipeline is written")

    monkeypatch.setattr(bot.store, "create_pipeline", dies_right_after)
    with pytest.raises(SystemExit):
        bot.work()
    monkeypatch.undo()
    first = bot.store.delivery("d0")
    assert first.status == "handled" and first.outcome.startswith("pipeline 1 launched")
    assert bot.store.delivery("d1").status == "received"
    restarted = make_bot(mode="none")
    assert dispatch.resubmit(restarted.store, restarted.services.queue) == 1  # d1 alone
    restarted.work()
    pipelines = bot.store.pipelines_with_meta("github_repo", "acme/app")
    assert sorted(bot.store.pipeline(p).sha for p in pipelines) == sorted(shas)


def test_the_request_runs_no_process_and_opens_no_connection(
    make_bot: MakeBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, shas = remote_with_commits(tmp_path, 1)
    bot = make_bot(mode="none")

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the webhook request started a process or opened a connection")

    monkeypatch.setattr(subprocess.Popen, "__init__", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    for number in range(5):
        payload = push(url, f"acme/app{number % 2}", "0" * 40, shas[0])
        assert bot.deliver("push", payload, delivery=f"d{number}").status_code == 202
    assert sorted(d.id for d in bot.store.unhandled_deliveries()) == [f"d{n}" for n in range(5)]
    assert not (bot.services.settings.data_dir / "mirrors").exists()
