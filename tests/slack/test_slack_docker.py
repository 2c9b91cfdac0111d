"""Slack end to end: the whole bot as ``ci-bot serve`` runs it (engine, job queue, reporter
hub in their threads, the web app on a real HTTP server), real containers on the Docker
engine, a real git repository, and the fake Slack Web API on the other side."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker import DockerClient
from werkzeug.serving import BaseWSGIServer, make_server

from ci_bot.engine.launch import launch_local
from ci_bot.executors.docker import DockerExecutor
from ci_bot.services import Services, open_services
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from ci_bot.web.app import create_app
from tests.containers import remove_leftovers
from tests.fakes.github import FakeGitHub
from tests.fakes.slack import FakeSlack, Message
from tests.slack.support import (
    USER_ID,
    click_payload,
    header_of,
    rerun_settings,
    signed,
    slack_settings,
)

pytestmark = pytest.mark.docker

DEPLOY_TOKEN = "dtok-5f1c9e2a7b3d4c6e"
# /test fails on its first run and passes on the next: a flaky test, the everyday
# reason to press "Rerun failed".  $CI_DATA survives between runs of a pipeline.
FLAKY = """
[push]
slack_channel = "#ci"

[pipeline.main]
image = "{image}"

[pipeline.main.build]
run = "echo building; echo built > $CI_DATA/built"

[pipeline.main.test]
secrets = ["DEPLOY_TOKEN"]
run = '''
echo "using token $DEPLOY_TOKEN"
if [ -e "$CI_DATA/tried" ]; then echo "3 passed"; exit 0; fi
touch "$CI_DATA/tried"
echo "1 failed: test_login_is_flaky"
exit 3
'''

[pipeline.main.deploy]
run = "echo deployed"
"""


@dataclass
class LiveBot:
    services: Services
    fake: FakeSlack
    repo: Path
    url: str  # the web app's address

    def launch(self) -> int:
        event = Event("push", branch="main", repo="acme/app")
        store, settings, executor = (
            self.services.store,
            self.services.settings,
            self.services.executor,
        )
        pipeline_id = launch_local(store, settings, executor, self.repo, event)
        self.services.engine.wake()
        return pipeline_id

    def message(self) -> Message:
        [message] = self.fake.top_level(self.fake.channel_id("ci"))
        return message

    def thread(self) -> list[str]:
        found = self.fake.top_level(self.fake.channel_id("ci"))
        if not found:
            return []
        return [reply.text for reply in self.fake.replies(found[0].channel, found[0].ts)]

    def told(self, pipeline_id: int, state: str, finished: str) -> bool:
        """Slack shows the pipeline ended ``state`` and its thread ends with ``finished``."""
        if self.services.store.pipeline(pipeline_id).finished_at is None or not self.thread():
            return False
        return header_of(self.message()).endswith(state) and self.thread()[-1].startswith(finished)

    def click(self, pipeline_id: int) -> int:
        message = self.message()
        payload = click_payload(
            pipeline_id, message.channel, message.ts, response_url=self.fake.response_url
        )
        body, headers = signed(payload)
        request = urllib.request.Request(
            f"{self.url}/webhooks/slack/interactions", body, headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            with error:
                return error.code


@pytest.fixture
def live_bot(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_github: FakeGitHub,
    docker_engine: DockerClient,
    busybox_image: str,
    repo_factory: Callable[..., Path],
) -> Iterator[LiveBot]:
    reruns = rerun_settings(fake_github.url)  # the clicker may push: GitHub says so
    settings = slack_settings(tmp_path / "data", fake_slack, CI_BOT_MAX_PARALLEL="2", **reruns)
    settings.data_dir.mkdir(parents=True)
    settings.secrets_file.write_text(f"DEPLOY_TOKEN={DEPLOY_TOKEN}\n")
    services = open_services(settings, DockerExecutor(docker_engine))
    server: BaseWSGIServer = make_server("127.0.0.1", 0, create_app(services), threaded=True)
    web = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    repo = repo_factory(
        {"conducto.cfg": FLAKY.format(image=busybox_image)}, "Log in with SSO\n\nCloses #4."
    )
    bot = LiveBot(services, fake_slack, repo, f"http://127.0.0.1:{server.server_port}")
    web.start()
    services.start()
    try:
        yield bot
    finally:
        services.stop()
        server.shutdown()
        web.join(5)
        pipelines = [p.id for p in services.store.pipelines()]
        leftovers = remove_leftovers(docker_engine, pipelines, settings.data_dir)
        services.store.engine.dispose()
        assert not leftovers, f"containers left behind: {leftovers}"


def test_a_failing_pipeline_one_live_message_its_story_and_a_rerun_that_turns_it_green(
    live_bot: LiveBot,
) -> None:
    bot = live_bot
    pipeline_id = bot.launch()

    bot.fake.wait_until(lambda: bot.told(pipeline_id, "failed", ":x: Finished"), "the failure")

    message = bot.message()
    shown = "\n".join(block["text"]["text"] for block in message.blocks[1:3])
    assert "*Commit* " in shown and "Log in with SSO" in shown and "Closes #4" not in shown
    assert ":white_check_mark: *build*" in shown and ":x: *test*" in shown
    assert ":white_circle: *deploy*" in shown  # it waits behind the failure
    assert "`/test` exited with code 3" in shown
    started, failure, finished = bot.thread()
    assert started == ":arrow_forward: Started: 3 Execs to run."
    assert failure.startswith(":x: `/test` failed: exited with code 3\nattempt 1 · exit code 3")
    assert "using token ***\n1 failed: test_login_is_flaky\n" in failure
    assert finished.startswith(":x: Finished: failed in ") and "1 Exec failed" in finished

    assert bot.click(pipeline_id) == 200
    bot.fake.wait_until(lambda: bot.told(pipeline_id, "passed", ":white_check_mark:"), "green")

    message = bot.message()  # still exactly one message in the channel
    assert header_of(message) == ":white_check_mark: acme/app pipeline 1 passed"
    assert [block["type"] for block in message.blocks][-1] == "context"  # no buttons left
    thread = bot.thread()
    assert thread[:3] == [started, failure, finished]
    assert thread[3] == f":leftwards_arrow_with_hook: <@{USER_ID}> reset `/test`: runs again."
    assert thread[4].startswith(":white_check_mark: Finished: passed in ") and len(thread) == 5
    headers = [version[1][0]["text"]["text"] for version in message.versions if version[1]]
    assert headers[-1].endswith("passed") and all(not h.endswith("passed") for h in headers[:-1])
    assert DEPLOY_TOKEN not in bot.fake.received_text()
    assert bot.fake.top_level(bot.fake.channel_id("general")) == []
    store = bot.services.store
    assert [e.state for e in store.executions(pipeline_id, "/test")] == [State.ERROR, State.DONE]
    assert store.pipeline(pipeline_id).state is State.DONE


def test_a_429_storm_holds_slack_back_and_the_end_still_arrives_in_order(
    live_bot: LiveBot,
) -> None:
    bot = live_bot
    bot.fake.fail_next(4, status=429, retry_after=1)
    pipeline_id = bot.launch()

    bot.fake.wait_until(lambda: bot.told(pipeline_id, "failed", ":x: Finished"), "the end")

    statuses = [call.status for call in bot.fake.calls]
    assert statuses[:4] == [429] * 4 and set(statuses[4:]) == {200}
    thread = bot.thread()
    assert [line.split(":")[1] for line in thread] == ["arrow_forward", "x", "x"]
    assert thread[1].startswith(":x: `/test` failed")
    assert bot.services.store.pipeline(pipeline_id).state is State.ERROR
    versions = bot.message().versions
    assert header_of(bot.message()).endswith("failed")
    assert all("failed" not in str(version[1][0]) for version in versions[:-1] if version[1])
