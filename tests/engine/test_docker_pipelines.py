"""The engine with real containers: the acceptance tests of the engine (design doc §2, §3, §5).

Every pipeline here is launched from a repository directory and driven by the
real Engine, DockerExecutor and SQLite store, on the busybox image unless Python
is needed.  What happened is checked from the outside: the store's executions,
the files containers leave in $CI_DATA, their logs, and Docker's own events
(starts and deaths of containers labelled with the pipeline).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import threading
import time
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ci_bot.errors import ConfigError
from ci_bot.executors.base import LABEL_PIPELINE
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.images import BUSYBOX_IMAGE, DEBIAN_PYTHON_IMAGE
from ci_bot.executors.workspace import LABEL_BASE_IMAGE
from ci_bot.store.records import Pipeline
from ci_bot.store.store import Store
from ci_bot.store.tables import PipelineRow
from ci_bot.store.transactions import utcnow
from ci_bot.tree.select import Event
from ci_bot.tree.states import State
from tests.containers import ci_bot_command, containers_of, peak_running
from tests.engine.bots import (
    SETTLE_SECONDS,
    WAIT_FOR,
    Bot,
    config,
    log,
    logs_of,
    span,
    wait_for,
)

pytestmark = pytest.mark.docker


# --- order: Serial, Parallel, stop_on_error, suppress_errors -------------------------------


def test_serial_children_run_in_turn_and_parallel_ones_at_once(bot: Bot) -> None:
    meet = WAIT_FOR + 'echo "$1" >> "$CI_DATA/order"; touch "$CI_DATA/$1"; wait_for "$2"\n'
    repo = bot.repo(
        config(
            """
            [pipeline.main.first]
            run = 'echo first >> "$CI_DATA/order"'
            [pipeline.main.both]
            parallel = true
            [pipeline.main.both.left]
            run = "sh ci/meet.sh left right"
            [pipeline.main.both.right]
            run = "sh ci/meet.sh right left"
            [pipeline.main.last]
            run = 'echo last >> "$CI_DATA/order"'
            """
        ),
        {"ci/meet.sh": meet},
    )
    pipeline_id = bot.launch(repo)

    pipeline = bot.run(pipeline_id)

    assert pipeline.state is State.DONE
    order = (bot.data(pipeline_id) / "order").read_text().split()
    # left and right each waited for the other to start: they ran at the same time.
    assert order[0] == "first" and sorted(order[1:3]) == ["left", "right"] and order[3] == "last"
    paths = ("/first", "/both/left", "/both/right", "/last")
    first, left, right, last = (span(bot.only(pipeline_id, path)) for path in paths)
    assert first.end <= min(left.start, right.start)
    assert max(left.end, right.end) <= last.start


@pytest.mark.parametrize("stop_on_error", [True, False])
def test_stop_on_error_decides_whether_later_siblings_run(bot: Bot, stop_on_error: bool) -> None:
    repo = bot.repo(
        config(
            """
            [pipeline.main.broken]
            run = "echo broken; exit 3"
            [pipeline.main.after]
            run = "echo after"
            """,
            root=f"stop_on_error = {str(stop_on_error).lower()}",
        )
    )
    pipeline_id = bot.launch(repo)
    since = time.time()

    pipeline = bot.run(pipeline_id)

    broken = bot.only(pipeline_id, "/broken")
    assert (broken.state, broken.exit_code, broken.message) == (
        State.ERROR,
        3,
        "exited with code 3",
    )
    assert pipeline.state is State.ERROR and pipeline.finished_at is not None
    if stop_on_error:
        assert bot.states(pipeline_id)["/after"] is State.PENDING
        assert bot.executions(pipeline_id, "/after") == []
        assert bot.starts(pipeline_id, since) == ["/broken"]
    else:
        assert bot.only(pipeline_id, "/after").state is State.DONE
        assert bot.starts(pipeline_id, since) == ["/after", "/broken"]


def test_suppress_errors_lets_the_pipeline_go_on_and_end_done(bot: Bot) -> None:
    repo = bot.repo(
        config(
            """
            [pipeline.main.checks]
            parallel = true
            suppress_errors = true
            [pipeline.main.checks.bad]
            run = "echo bad; exit 1"
            [pipeline.main.checks.good]
            run = "echo good"
            [pipeline.main.after]
            run = "echo after"
            """
        )
    )
    pipeline_id = bot.launch(repo)

    pipeline = bot.run(pipeline_id)

    states = bot.states(pipeline_id)
    assert states["/checks/bad"] is State.ERROR
    assert bot.only(pipeline_id, "/checks/bad").exit_code == 1
    assert (states["/checks/good"], states["/checks"], states["/after"]) == (State.DONE,) * 3
    assert pipeline.state is State.DONE


# --- skipping: when, skip -----------------------------------------------------------------


def test_when_and_skip_start_no_container_until_unskipped(bot: Bot) -> None:
    repo = bot.repo(
        config(
            """
            [pipeline.main.build]
            run = "echo build"
            [pipeline.main.deploy]
            run = "echo deploy"
            when = "{branch} == release/*"
            [pipeline.main.gate]
            skip = true
            [pipeline.main.gate.publish]
            run = "echo publish"
            """
        )
    )
    pipeline_id = bot.launch(repo)
    since = time.time()

    pipeline = bot.run(pipeline_id)

    assert pipeline.state is State.DONE
    states = bot.states(pipeline_id)
    assert (states["/deploy"], states["/gate/publish"]) == (State.SKIPPED, State.SKIPPED)
    assert bot.executions(pipeline_id, "/deploy") == []
    assert bot.executions(pipeline_id, "/gate/publish") == []
    assert bot.starts(pipeline_id, since) == ["/build"]
    reasons = {n.path: n.skip_reason for n in bot.store.nodes(pipeline_id)}
    assert "when '{branch} == release/*' is false" in reasons["/deploy"]

    bot.store.set_skip(pipeline_id, "/gate", False, actor="release-manager")
    since = time.time()
    pipeline = bot.run(pipeline_id)

    assert pipeline.state is State.DONE
    assert bot.starts(pipeline_id, since) == ["/gate/publish"]
    assert log(bot.only(pipeline_id, "/gate/publish")) == ["publish"]
    assert bot.states(pipeline_id)["/deploy"] is State.SKIPPED


# --- retry, limits ----------------------------------------------------------------------------


def test_retry_runs_a_failed_exec_again_up_to_its_limit(bot: Bot) -> None:
    repo = bot.repo(
        config(
            """
            [pipeline.main.flaky]
            retry = 1
            run = '''
            if [ -e "$CI_DATA/tried" ]; then echo "second try"; exit 0; fi
            touch "$CI_DATA/tried"; echo "first try"; exit 1
            '''
            [pipeline.main.hopeless]
            retry = 1
            run = "echo no luck; exit 2"
            """,
            root="parallel = true",
        )
    )
    pipeline_id = bot.launch(repo)

    pipeline = bot.run(pipeline_id)

    flaky = bot.executions(pipeline_id, "/flaky")
    assert [(e.attempt, e.state, e.exit_code) for e in flaky] == [
        (1, State.ERROR, 1),
        (2, State.DONE, 0),
    ]
    assert (log(flaky[0])[0], log(flaky[1])) == ("first try", ["second try"])
    hopeless = bot.executions(pipeline_id, "/hopeless")
    assert [(e.attempt, e.state) for e in hopeless] == [(1, State.ERROR), (2, State.ERROR)]
    assert bot.states(pipeline_id)["/flaky"] is State.DONE
    assert pipeline.state is State.ERROR


@pytest.mark.parametrize(
    ("max_concurrent", "max_parallel", "peak"),
    [(2, 4, 2), (None, 3, 3)],
    ids=["max_concurrent", "max_parallel"],
)
def test_at_most_the_limit_of_containers_run_at_once(
    make_bot: Callable[..., Bot], max_concurrent: int | None, max_parallel: int, peak: int
) -> None:
    bot = make_bot(max_parallel=max_parallel)
    limit = f"max_concurrent = {max_concurrent}" if max_concurrent else ""
    body = "".join(f'[pipeline.main.t{i}]\nrun = "sleep 1.5"\n' for i in range(5))
    repo = bot.repo(config(body, root=f"parallel = true\n{limit}"))
    pipeline_id = bot.launch(repo)
    since = time.time()

    assert bot.run(pipeline_id).state is State.DONE

    events = bot.container_events(pipeline_id, since)
    assert sum(e.action == "start" for e in events) == 5
    assert peak_running(events) == peak


# --- what a container is given: env, secrets -----------------------------------------------


def test_env_is_inherited_nearer_wins_and_secrets_are_masked(
    make_bot: Callable[..., Bot],
) -> None:
    token = "tok-31415926535"
    bot = make_bot(secrets={"DEPLOY_TOKEN": token})
    repo = bot.repo(
        config(
            """
            [pipeline.main.group]
            env = { LEVEL = "group", OVERRIDE = "group" }
            [pipeline.main.group.leaf]
            env = { LEVEL = "leaf" }
            secrets = ["DEPLOY_TOKEN"]
            run = '''
            echo "LEVEL=$LEVEL FROM_ROOT=$FROM_ROOT OVERRIDE=$OVERRIDE"
            echo "node=$CI_NODE_PATH pipeline=$CI_PIPELINE_ID branch=$CI_BRANCH ci=$CI"
            echo "token=$DEPLOY_TOKEN"
            printf %s "$DEPLOY_TOKEN" > "$CI_DATA/token"
            '''
            [pipeline.main.plain]
            run = 'echo "token=[$DEPLOY_TOKEN] LEVEL=$LEVEL"'
            [pipeline.main.unknown]
            secrets = ["NOT_IN_THE_STORE"]
            run = "echo never"
            """,
            root="""
            parallel = true
            env = { LEVEL = "root", FROM_ROOT = "root", OVERRIDE = "root" }
            """,
        )
    )
    pipeline_id = bot.launch(repo)
    since = time.time()

    bot.run(pipeline_id)

    leaf = bot.only(pipeline_id, "/group/leaf")
    assert log(leaf) == [
        "LEVEL=leaf FROM_ROOT=root OVERRIDE=group",
        f"node=/group/leaf pipeline={pipeline_id} branch=main ci=true",
        "token=***",
    ]
    assert token not in Path(leaf.log_path).read_text()
    assert (bot.data(pipeline_id) / "token").read_text() == token  # the container had it
    assert log(bot.only(pipeline_id, "/plain")) == ["token=[] LEVEL=root"]
    unknown = bot.only(pipeline_id, "/unknown")
    assert unknown.state is State.ERROR
    assert unknown.message.startswith("secret NOT_IN_THE_STORE is not in the bot's secret store")
    assert bot.starts(pipeline_id, since) == ["/group/leaf", "/plain"]


# --- the workspace, $CI_DATA and $CI_CACHE ----------------------------------------------------


def test_each_container_gets_a_pristine_workspace_and_ci_data_carries_artifacts(
    bot: Bot,
) -> None:
    vandal = 'rm -rf /workspace/* && echo scribble > new.txt && ls -A && touch "$CI_DATA/wiped"'
    neighbour = (
        WAIT_FOR + "wait_for wiped\ntest -f a.txt && test -f src/app.sh && test ! -e new.txt"
    )
    repo = bot.repo(
        config(
            f"""
            [pipeline.main.build]
            run = 'mkdir -p "$CI_DATA/dist" && cat a.txt > "$CI_DATA/dist/artifact"'
            [pipeline.main.siblings]
            parallel = true
            [pipeline.main.siblings.vandal]
            run = '{vandal}'
            [pipeline.main.siblings.neighbour]
            run = "sh ci/neighbour.sh"
            [pipeline.main.test]
            run = '''
            test -f a.txt && test ! -e new.txt
            echo "artifact: $(cat "$CI_DATA/dist/artifact")"
            '''
            """
        ),
        {"a.txt": "alpha\n", "src/app.sh": "echo app\n", "ci/neighbour.sh": neighbour},
    )
    pipeline_id = bot.launch(repo)

    pipeline = bot.run(pipeline_id)

    assert pipeline.state is State.DONE, bot.states(pipeline_id)
    assert log(bot.only(pipeline_id, "/siblings/vandal")) == ["new.txt"]
    assert log(bot.only(pipeline_id, "/test")) == ["artifact: alpha"]
    assert (bot.data(pipeline_id) / "dist" / "artifact").read_text() == "alpha\n"
    source = Path(bot.store.pipeline(pipeline_id).source_dir)
    assert (source / "a.txt").is_file() and not (source / "new.txt").exists()
    assert (repo / "a.txt").is_file()


def test_ci_cache_survives_into_the_next_pipeline_of_the_same_repository(bot: Bot) -> None:
    cfg = config(
        """
        [pipeline.main.count]
        run = '''
        test ! -e "$CI_DATA/mine" && touch "$CI_DATA/mine"
        runs=$(cat "$CI_CACHE/runs" 2>/dev/null || echo 0)
        echo "runs before: $runs"
        echo $((runs + 1)) > "$CI_CACHE/runs"
        '''
        """
    )
    app, other = bot.repo(cfg, name="app"), bot.repo(cfg, name="other")

    seen = []
    for repo in (app, app, other):
        pipeline_id = bot.launch(repo)
        assert bot.run(pipeline_id).state is State.DONE
        seen.append(log(bot.only(pipeline_id, "/count")))

    assert seen == [["runs before: 0"], ["runs before: 1"], ["runs before: 0"]]


# --- timeout, cancel --------------------------------------------------------------------------


def test_timeout_kills_the_container_and_says_so(bot: Bot) -> None:
    repo = bot.repo(
        config(
            """
            [pipeline.main.sleepy]
            timeout = "2s"
            run = "echo going to sleep; sleep 30; echo woke up"
            [pipeline.main.after]
            run = "echo after"
            """
        )
    )
    pipeline_id = bot.launch(repo)

    pipeline = bot.run(pipeline_id)

    # Killed, not waited for: the log stops before "woke up" (no clock is read).
    sleepy = bot.only(pipeline_id, "/sleepy")
    assert (sleepy.state, sleepy.message) == (State.ERROR, "timed out after 2s")
    assert log(sleepy) == ["going to sleep", "[ci-bot] timed out after 2s"]
    assert pipeline.state is State.ERROR
    assert bot.executions(pipeline_id, "/after") == []
    assert containers_of(bot.docker, pipeline_id, bot.settings.data_dir) == []


def test_cancel_kills_the_running_container_and_nothing_later_starts(bot: Bot) -> None:
    repo = bot.repo(
        config(
            """
            [pipeline.main.long]
            run = "echo started; sleep 30"
            [pipeline.main.later]
            run = "echo later"
            """
        )
    )
    pipeline_id = bot.launch(repo)
    since = time.time()
    result: list[Pipeline] = []
    engine = threading.Thread(target=lambda: result.append(bot.run(pipeline_id)), daemon=True)
    engine.start()
    wait_for(
        lambda: any(e.state is State.RUNNING for e in bot.executions(pipeline_id, "/long")),
        "/long to run",
    )

    other_process = Store(bot.settings.database_url)  # a person's `ci-bot cancel`
    other_process.cancel(pipeline_id, actor="someone")
    other_process.engine.dispose()
    engine.join(SETTLE_SECONDS)

    # Killed, not waited for: the container events below show the kill.
    assert result, "the engine did not settle the cancelled pipeline"
    assert result[0].state is State.CANCELLED
    long = bot.only(pipeline_id, "/long")
    assert (long.state, long.message) == (State.CANCELLED, "cancelled")
    assert bot.states(pipeline_id)["/later"] is State.CANCELLED
    assert bot.executions(pipeline_id, "/later") == []
    events = bot.container_events(pipeline_id, since, ("start", "kill", "die"))
    assert [(e.action, e.node) for e in events][:2] == [("start", "/long"), ("kill", "/long")]
    assert {e.node for e in events} == {"/long"}
    assert containers_of(bot.docker, pipeline_id, bot.settings.data_dir) == []


# --- reset ------------------------------------------------------------------------------------


def test_reset_of_a_failed_leaf_runs_only_it_and_what_was_still_to_run(bot: Bot) -> None:
    repo = bot.repo(
        config(
            """
            [pipeline.main.prep]
            parallel = true
            [pipeline.main.prep.p1]
            run = "echo p1"
            [pipeline.main.prep.p2]
            run = "echo p2"
            [pipeline.main.prep.p3]
            run = "echo p3"
            [pipeline.main.prep.p4]
            run = "echo p4"
            [pipeline.main.build]
            run = "echo build"
            [pipeline.main.test]
            parallel = true
            [pipeline.main.test.t1]
            run = "echo t1"
            [pipeline.main.test.t2]
            run = "echo t2"
            [pipeline.main.test.flaky]
            run = 'test -e "$CI_DATA/fixed" || { echo "the fixture is missing"; exit 1; }'
            [pipeline.main.test.t3]
            run = "echo t3"
            [pipeline.main.package]
            run = "echo package"
            [pipeline.main.publish]
            parallel = true
            [pipeline.main.publish.x1]
            run = "echo x1"
            [pipeline.main.publish.x2]
            run = "echo x2"
            """
        )
    )
    pipeline_id = bot.launch(repo)
    assert bot.run(pipeline_id).state is State.ERROR
    before = {e.path: e for e in bot.store.executions(pipeline_id)}
    assert len(before) == 9 and before["/test/flaky"].state is State.ERROR
    assert all(e.state is State.DONE for p, e in before.items() if p != "/test/flaky")

    (bot.data(pipeline_id) / "fixed").touch()
    assert bot.store.reset(pipeline_id, "/test/flaky") == ["/test/flaky"]
    since = time.time()
    pipeline = bot.run(pipeline_id)

    assert pipeline.state is State.DONE
    assert bot.starts(pipeline_id, since) == [
        "/package",
        "/publish/x1",
        "/publish/x2",
        "/test/flaky",
    ]
    after = bot.store.executions(pipeline_id)
    assert len(after) == 13  # 12 Execs, the reset one twice
    flaky = bot.executions(pipeline_id, "/test/flaky")
    assert [(e.attempt, e.state) for e in flaky] == [(1, State.ERROR), (2, State.DONE)]
    for path, execution in before.items():
        if path != "/test/flaky":
            assert bot.executions(pipeline_id, path) == [execution]  # same id, same times


# --- crash recovery ---------------------------------------------------------------------------

CRASH_CONFIG = config(
    """
    [pipeline.main.quick]
    run = "echo quick"
    [pipeline.main.slow]
    run = "sh ci/slow.sh"
    [pipeline.main.after]
    parallel = true
    [pipeline.main.after.one]
    run = "echo one"
    [pipeline.main.after.two]
    run = "echo two"
    """
)
# /slow runs until the test touches $CI_DATA/release (at most a minute).
SLOW_SCRIPT = WAIT_FOR.replace("-gt 100", "-gt 600") + (
    "echo slow started\nwait_for release\necho slow finished\n"
)


def _ci_bot(bot: Bot, *args: str, output: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
    env.update(CI_BOT_DATA_DIR=str(bot.settings.data_dir), CI_BOT_MAX_PARALLEL="2")
    with output.open("ab") as sink:
        return subprocess.Popen(
            [*ci_bot_command(), *args], env=env, stdout=sink, stderr=subprocess.STDOUT
        )


@pytest.mark.parametrize("container", ["still running", "exited meanwhile", "removed"])
def test_a_killed_engine_is_taken_over_without_running_done_nodes_twice(
    bot: Bot, tmp_path: Path, container: str
) -> None:
    repo = bot.repo(CRASH_CONFIG, {"ci/slow.sh": SLOW_SCRIPT})
    output = tmp_path / "ci-bot.out"
    since = time.time()
    first = _ci_bot(bot, "run", str(repo), output=output)
    try:
        wait_for(
            lambda: [e for e in bot.store.executions(1, "/slow") if e.state is State.RUNNING],
            "/slow to run",
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    # The dead engine's lease is made to last a day: the resume below can only go on
    # by seeing that its owner died, never by waiting for the lease to run out.
    with bot.store.engine.begin() as connection:
        long_lease = utcnow() + timedelta(days=1)
        connection.execute(
            update(PipelineRow).where(PipelineRow.id == 1).values(lease_until=long_lease)
        )
    [slow] = bot.executions(1, "/slow")
    assert slow.state is State.RUNNING and slow.container_id
    assert bot.docker.containers.get(slow.container_id).status == "running"
    if container == "removed":
        bot.docker.containers.get(slow.container_id).remove(force=True)
        (bot.data(1) / "release").touch()
    if container == "exited meanwhile":  # it ended while no engine followed it
        (bot.data(1) / "release").touch()
        wait_for(
            lambda: bot.docker.containers.get(slow.container_id).status == "exited",
            "/slow's container to exit",
        )

    second = _ci_bot(bot, "resume", "1", output=output)
    try:
        if container == "still running":
            restarted = "again after an engine restart"
            wait_for(lambda: restarted in logs_of(bot, 1, "/slow"), "a re-attach")
            (bot.data(1) / "release").touch()
        assert second.wait(SETTLE_SECONDS) == 0, output.read_text()
    finally:
        second.kill()
        second.wait()

    assert bot.store.pipeline(1).state is State.DONE
    executions = bot.store.executions(1)
    for path in ("/quick", "/slow", "/after/one", "/after/two"):
        assert [e.state for e in executions if e.path == path].count(State.DONE) == 1, path
    assert len(bot.executions(1, "/quick")) == 1
    starts = bot.starts(1, since)
    slows = bot.executions(1, "/slow")
    if container == "exited meanwhile":
        assert [e.id for e in slows] == [slow.id]  # its result collected, not run again
        assert starts == ["/after/one", "/after/two", "/quick", "/slow"]
        assert log(slows[0]).count("slow finished") == 1
    elif container == "still running":
        assert [e.id for e in slows] == [slow.id]  # followed to its end, not run again
        assert starts == ["/after/one", "/after/two", "/quick", "/slow"]
        lines = log(slows[0])
        # Re-attached: the output resumes exactly where the log ended.
        assert lines.index("slow started") < lines.index("slow finished")
        assert lines.count("slow started") == 1
        assert lines.count("slow finished") == 1
        assert any("again after an engine restart" in line for line in lines)
    else:
        assert slows[0].id == slow.id
        assert [(e.attempt, e.state) for e in slows] == [(1, State.WORKER_ERROR), (2, State.DONE)]
        assert "container is gone" in slows[0].message
        assert starts == ["/after/one", "/after/two", "/quick", "/slow", "/slow"]


# --- infrastructure failures ----------------------------------------------------------------


def test_an_image_that_cannot_be_pulled_is_a_worker_error_naming_it(bot: Bot) -> None:
    repo = bot.repo(config('[pipeline.main.build]\nrun = "true"', image="acme/never-built:1.0"))
    pipeline_id = bot.launch(repo)

    pipeline = bot.run(pipeline_id)

    build = bot.only(pipeline_id, "/build")
    assert build.state is State.WORKER_ERROR and pipeline.state is State.WORKER_ERROR
    # Docker Hub cannot be reached here: the registry's (or the network's) own sentence.
    assert build.message.startswith("cannot pull image acme/never-built:1.0: ")
    lines = log(build)
    assert lines[0] == "[ci-bot] pulling acme/never-built:1.0 from docker.io anonymously"
    assert lines[-1] == f"[ci-bot] {build.message}"


def test_an_unreachable_docker_engine_is_a_worker_error_saying_what_to_do(
    make_bot: Callable[..., Bot], caplog: pytest.LogCaptureFixture
) -> None:
    url = "unix:///nonexistent.sock"
    bot = make_bot(executor=DockerExecutor(base_url=url))
    pipeline_id = bot.launch(bot.repo(config('[pipeline.main.build]\nrun = "true"')))

    # docker-py leaks the socket of a failed connect; collect it before the filters return
    # (a logged traceback would keep it alive past them, so the runner logs nothing here).
    with warnings.catch_warnings(), caplog.at_level(logging.CRITICAL, "ci_bot.engine.runner"):
        warnings.simplefilter("ignore", ResourceWarning)
        pipeline = bot.run(pipeline_id)
        gc.collect()

    build = bot.only(pipeline_id, "/build")
    assert (build.state, pipeline.state) == (State.WORKER_ERROR, State.WORKER_ERROR)
    assert build.message.startswith(f"the Docker engine at {url} could not be reached")
    assert "scripts/ensure-docker.sh" in build.message


# --- generated trees --------------------------------------------------------------------------

TREE_SCRIPT = f"""
import json, os

branch = os.environ["CI_BRANCH"]
shards = [
    {{"name": f"shard-{{i}}", "type": "exec", "run": f"echo shard {{i}} of $CI_BRANCH"}}
    for i in range(2)
]
print(json.dumps({{
    "name": "/", "type": "serial", "image": "{BUSYBOX_IMAGE}", "env": {{"SEEN": branch}},
    "children": [
        {{"name": "hello", "type": "exec", "run": 'echo "hello from $SEEN"'}},
        {{"name": "shards", "type": "parallel", "children": shards}},
    ],
}}))
"""


def test_a_generated_tree_is_the_pipeline(bot: Bot, python_image: str) -> None:
    cfg = f'[push]\ncommand = "python3 ci/tree.py"\nimage = "{DEBIAN_PYTHON_IMAGE}"\n'
    repo = bot.repo(cfg, {"ci/tree.py": TREE_SCRIPT})
    branch = "x;touch${IFS}/ci/data/pwned"  # a legal branch name: it must stay data

    pipeline_id = bot.launch(repo, Event("push", branch=branch))
    pipeline = bot.run(pipeline_id)

    assert pipeline.state is State.DONE
    assert sorted(bot.states(pipeline_id)) == [
        "/",
        "/hello",
        "/shards",
        "/shards/shard-0",
        "/shards/shard-1",
    ]
    assert log(bot.only(pipeline_id, "/hello")) == [f"hello from {branch}"]
    assert log(bot.only(pipeline_id, "/shards/shard-1")) == [f"shard 1 of {branch}"]
    assert not list(bot.settings.data_dir.rglob("pwned"))
    leaked = bot.docker.images.list(filters={"label": LABEL_BASE_IMAGE})
    assert not [i.tags for i in leaked if i.labels[LABEL_PIPELINE].startswith("generate-")]


def test_a_generated_tree_with_a_bad_key_is_a_config_error_naming_it(bot: Bot) -> None:
    tree = '{"name": "/", "type": "serial", "children": [\n'
    tree += '  {"name": "a", "type": "exec", "runn": "echo a"}]}\n'
    cfg = f'[push]\ncommand = "cat ci/tree.json"\nimage = "{BUSYBOX_IMAGE}"\n'
    repo = bot.repo(cfg, {"ci/tree.json": tree})

    with pytest.raises(ConfigError) as caught:
        bot.launch(repo)

    named = [p for p in caught.value.problems if "runn" in p.message]
    assert [(p.file, p.line, p.key) for p in named] == [
        ("output of 'cat ci/tree.json'", 2, "/a: runn")
    ]
    assert named[0].message.endswith("unknown key 'runn' for a node; did you mean 'run'?")
    assert bot.store.pipelines() == []


# --- two bots, one Docker engine ------------------------------------------------------------


def test_two_bots_on_one_docker_engine_keep_their_pipelines_apart(
    make_bot: Callable[..., Bot],
) -> None:
    """Pipeline ids are per database: both bots have a pipeline 1, on one Docker engine."""
    first, second = make_bot(), make_bot()
    cfg = config('[pipeline.main.who]\nrun = "sh ci/who.sh"')
    script = WAIT_FOR + "cat who.txt\nwait_for go\n"
    one = first.launch(first.repo(cfg, {"who.txt": "first\n", "ci/who.sh": script}))
    two = second.launch(second.repo(cfg, {"who.txt": "second\n", "ci/who.sh": script}))
    assert one == two == 1
    for bot in (first, second):
        bot.data(1).mkdir(parents=True)
    (second.data(two) / "go").touch()
    result: list[Pipeline] = []
    engine = threading.Thread(target=lambda: result.append(first.run(one)), daemon=True)
    engine.start()
    try:
        wait_for(lambda: "first" in logs_of(first, one, "/who"), "the first bot's /who to run")

        assert second.run(two).state is State.DONE  # while the first bot's /who still runs

        assert log(second.only(two, "/who")) == ["second"]
    finally:
        (first.data(one) / "go").touch()
        engine.join(SETTLE_SECONDS)
    assert result and result[0].state is State.DONE
    assert log(first.only(one, "/who")) == ["first"]
