"""``ci-bot rerun`` of a pipeline that came from GitHub: a new pipeline through the launch
path every GitHub pipeline takes (mirror fetched, config read at the commit), on the
branch's newest commit with ``--at HEAD``, on the same commit without.

The repository is a real bare git repository served by file:// URL; GitHub's API is
not configured, so nothing is reported (tests/github covers the reporting).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.executors.fake import FakeExecutor
from ci_bot.git import Mirrors
from ci_bot.github.bot import GitHubBot, make_mask
from ci_bot.github.events import Repo
from ci_bot.github.launching import LaunchRequest, launch_request
from ci_bot.services import open_services
from ci_bot.settings import Settings
from ci_bot.store.store import Store
from ci_bot.tree.select import Event
from tests.containers import remove_leftovers
from tests.gitrepos import make_bare_remote, push_files
from tests.test_cli_run import Cli

pytestmark = pytest.mark.docker

CONFIG = """
[[push]]
pipeline = "ci"
[pipeline.ci]
image = "{image}"
[pipeline.ci.show]
run = "cat version.txt"
"""


@pytest.fixture
def cli(tmp_path: Path, docker_engine: DockerClient, busybox_image: str) -> Iterator[Cli]:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("")
    runner = Cli(tmp_path / "data", secrets)
    yield runner
    store = Store(f"sqlite:///{runner.data_dir / 'ci-bot.sqlite'}")
    pipeline_ids = [pipeline.id for pipeline in store.pipelines()]
    store.close()
    assert not remove_leftovers(docker_engine, pipeline_ids, runner.data_dir)


def launched_from_github(data_dir: Path, url: str) -> None:
    """Pipeline 1, launched as a push to main would launch it (then cancelled unrun)."""
    services = open_services(Settings.from_env({}, data_dir=data_dir), executor=FakeExecutor())
    bot = GitHubBot(services, None, Mirrors(data_dir / "mirrors"), make_mask({}))
    request = LaunchRequest(
        repo=Repo("acme/app", url, "main", None),
        event=Event("push", branch="main", repo="acme/app"),
        ref="refs/heads/main",
        delivery="push-1",
    )
    assert launch_request(bot, request).startswith("pipeline 1 launched for push at ")
    services.store.cancel(1, actor="test")
    services.store.close()


def test_rerun_of_a_github_pipeline_goes_through_its_launch_path(
    cli: Cli, tmp_path: Path, busybox_image: str
) -> None:
    url, first = make_bare_remote(
        tmp_path, {"conducto.cfg": CONFIG.format(image=busybox_image), "version.txt": "1\n"}
    )
    launched_from_github(cli.data_dir, url)
    newer = push_files(url, {"version.txt": "2\n"}, "v2")

    at_head = cli("rerun", "1", "--at", "HEAD")
    same = cli("rerun", "1")

    assert at_head.returncode == 0, at_head.stdout + at_head.stderr
    assert at_head.stdout.splitlines()[0] == f"pipeline 2 reruns pipeline 1 at {newer[:12]}"
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.splitlines()[0] == f"pipeline 3 reruns pipeline 1 at {first[:12]}"
    for pipeline_id, sha, version in ((2, newer, "2\n"), (3, first, "1\n")):
        shown = cli.json("show", str(pipeline_id), "--json")
        assert (shown["repo"], shown["event"], shown["branch"]) == ("acme/app", "push", "main")
        assert (shown["sha"], shown["state"]) == (sha, "done")
        assert cli("log", str(pipeline_id), "/show").stdout == version
    store = Store(f"sqlite:///{cli.data_dir / 'ci-bot.sqlite'}")
    meta = store.meta(2)
    store.close()
    assert meta["rerun_of"] == 1 and meta["github_repo"] == "acme/app"
    assert str(meta["github_delivery"]).startswith("manual:")
