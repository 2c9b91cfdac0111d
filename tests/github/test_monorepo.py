"""A monorepo through the GitHub launch path: a push builds only the services it touched
(the others skipped, saying why), a change to the config builds them all, a pull request
is measured from its merge base, and every node learns its base and changed files —
real git and mirrors, the real engine, a FakeExecutor in place of containers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from ci_bot.executors.fake import FakeExecutor
from tests.github.conftest import Bot, MakeBot
from tests.github.support import official, pr_payload, retarget
from tests.gitrepos import commit_files, git, make_bare_remote, push_files, work_tree

CONFIG = """\
[[push]]
pipeline = "ci"

[pr]
pipeline = "ci"

[pipeline.ci]
image = "busybox"
[pipeline.ci.services]
for_each = "services/*"
when = 'changed("{service.dir}") || changed(libs/shared)'
[pipeline.ci.services.test]
run = "make -C {service.dir} test"
"""
FILES = {
    "conducto.cfg": CONFIG,
    "services/a/Makefile": "test:\n\ttrue\n",
    "services/b/Makefile": "test:\n\ttrue\n",
    "libs/shared/util.sh": "true\n",
}


@pytest.fixture
def executor() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
def bot(make_bot: MakeBot, executor: FakeExecutor) -> Bot:
    return make_bot(mode="none", executor=executor)


def push(bot: Bot, fixtures_dir: Path, url: str, before: str, after: str) -> int:
    payload = retarget(official(fixtures_dir, "push/with-new-branch.payload.json"), url, after)
    payload |= {"ref": "refs/heads/main", "before": before, "created": False}
    payload["repository"]["default_branch"] = "main"
    return deliver(bot, "push", payload)


def deliver(bot: Bot, event: str, payload: dict[str, Any]) -> int:
    delivery = str(uuid.uuid4())
    assert bot.deliver(event, payload, delivery=delivery).status_code == 202
    bot.work()
    outcome = bot.store.delivery(delivery).outcome
    assert "launched" in outcome, outcome
    pipeline_id = max(p.id for p in bot.store.pipelines())
    bot.services.engine.run_until_settled(pipeline_id)
    return pipeline_id


def skip_reasons(bot: Bot, pipeline_id: int) -> dict[str, str]:
    return {n.path: n.skip_reason for n in bot.store.nodes(pipeline_id) if n.skip_reason}


def test_a_push_touching_one_service_runs_only_its_subtree(
    bot: Bot, executor: FakeExecutor, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, first = make_bare_remote(tmp_path, FILES)
    after = push_files(url, {"services/a/main.c": "int main;\n"}, "a: main")
    executor.expect("/services/a/test", command="make -C services/a test")
    pipeline_id = push(bot, fixtures_dir, url, first, after)
    executor.assert_all_used()
    assert skip_reasons(bot, pipeline_id) == {
        "/services/b": "when 'changed(\"services/b\") || changed(libs/shared)' is false: no "
        f"file changed since {first[:12]} is under services/b (changed: services/a/main.c); "
        f"no file changed since {first[:12]} is under libs/shared (changed: services/a/main.c)"
    }
    [spec] = executor.ran
    assert spec.env["CI_BASE_SHA"] == first
    assert spec.env["CI_SERVICE_DIR"] == "services/a"
    assert spec.env["CI_CHANGED_FILES"] == "/ci/changed-files"
    extras = dict((there, here) for here, there in spec.workspace_extras)
    assert extras["/ci/changed-files"].read_text() == "services/a/main.c\n"
    assert (extras["/workspace/.git"] / "HEAD").read_text() == "ref: refs/heads/main\n"


def test_a_change_to_the_config_or_the_shared_library_runs_every_service(
    bot: Bot, executor: FakeExecutor, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, first = make_bare_remote(tmp_path, FILES)
    config_change = push_files(url, {"conducto.cfg": CONFIG + "\n# tidied\n"}, "config")
    executor.expect("/services/a/test").expect("/services/b/test")
    pipeline_id = push(bot, fixtures_dir, url, first, config_change)
    assert skip_reasons(bot, pipeline_id) == {}
    library_change = push_files(url, {"libs/shared/util.sh": "exit 0\n"}, "shared")
    executor.expect("/services/a/test").expect("/services/b/test")
    pipeline_id = push(bot, fixtures_dir, url, config_change, library_change)
    executor.assert_all_used()
    assert skip_reasons(bot, pipeline_id) == {}


def test_a_pull_request_uses_the_merge_base(
    bot: Bot, executor: FakeExecutor, fixtures_dir: Path, tmp_path: Path
) -> None:
    url, fork_point = make_bare_remote(tmp_path, FILES)
    head = push_files(url, {"services/b/main.c": "int main;\n"}, "b: main", branch="changes")
    work = work_tree(url)
    git(work, "push", "--quiet", "--force", "origin", "changes:refs/pull/2/head")
    git(work, "checkout", "--quiet", "main")  # meanwhile, main moves on with a change to a
    commit_files(work, {"services/a/main.c": "int main;\n"}, "a: main")
    git(work, "push", "--quiet", "origin", "main")
    executor.expect("/services/b/test")
    payload = pr_payload(fixtures_dir, url, head)
    payload["pull_request"]["base"]["ref"] = "main"
    pipeline_id = deliver(bot, "pull_request", payload)
    executor.assert_all_used()
    assert list(skip_reasons(bot, pipeline_id)) == ["/services/a"]
    assert executor.ran[0].env["CI_BASE_SHA"] == fork_point


def test_a_generator_sees_the_changes_and_a_change_to_it_changes_everything(
    bot: Bot, executor: FakeExecutor, fixtures_dir: Path, tmp_path: Path
) -> None:
    config = '[[push]]\ncommand = "python3 ci/gen.py"\nimage = "busybox"\n'
    url, first = make_bare_remote(tmp_path, {**FILES, "conducto.cfg": config, "ci/gen.py": "1\n"})
    after = push_files(url, {"ci/gen.py": "2\n"}, "generator")
    tree = (
        '{"name": "/", "type": "serial", "image": "busybox", "children": [{"name": "t",'
        ' "type": "exec", "run": "true", "when": "changed(services/a)"}]}'
    )
    executor.expect("/generate", files={".ci-bot-tree.json": tree}).expect("/t")
    push(bot, fixtures_dir, url, first, after)
    executor.assert_all_used()  # /t ran: the generator's own change changed everything
    generator = executor.ran[0]
    assert generator.env["CI_BASE_SHA"] == first
    extras = dict((there, here) for here, there in generator.workspace_extras)
    assert extras["/ci/changed-files"].read_text() == "ci/gen.py\n"
    assert "/workspace/.git" in extras
