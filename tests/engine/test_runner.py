"""The engine drives a stored pipeline with a FakeExecutor: order, retries, resets,
limits, cancel, skips and what each execution is given (design doc §2, §3, §5)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ci_bot.engine.runner import Engine
from ci_bot.executors.base import ERROR, ExecSpec
from ci_bot.executors.fake import FakeExecutor
from ci_bot.settings import Settings
from ci_bot.store.records import Pipeline
from ci_bot.store.store import Store
from ci_bot.tree.states import State
from tests.pipelines import create_pipeline

IMAGE = '[pipeline.main]\nimage = "alpine"\n'


def execs(*names: str, parent: str = "pipeline.main", **params: str) -> str:
    extra = "".join(f"{key} = {value}\n" for key, value in params.items())
    return "".join(f'[{parent}.{name}]\nrun = "echo {name}"\n{extra}' for name in names)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        time.sleep(0.005)


class Background:
    """``run_until_settled`` in a thread, so the test can act while Execs are held."""

    def __init__(self, engine: Engine, pipeline_id: int) -> None:
        self.result: Pipeline | None = None
        self._thread = threading.Thread(target=self._run, args=(engine, pipeline_id))
        self._thread.start()

    def _run(self, engine: Engine, pipeline_id: int) -> None:
        self.result = engine.run_until_settled(pipeline_id)

    def join(self) -> Pipeline:
        self._thread.join(timeout=10)
        assert self.result is not None, "the engine did not settle the pipeline"
        return self.result


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


@pytest.fixture
def fake() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
def hold() -> Iterator[threading.Event]:
    """An event held Execs wait on; set at teardown so no run outlives its test."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def make_engine(store: Store, fake: FakeExecutor, tmp_path: Path) -> Callable[..., Engine]:
    def make(
        max_parallel: int = 4, secrets: dict[str, str] | None = None, **settings: object
    ) -> Engine:
        config = Settings.from_env({}, data_dir=tmp_path, max_parallel=max_parallel, **settings)
        return Engine(store, fake, config, secrets=secrets, poll_seconds=0.01)

    return make


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()


def ran(fake: FakeExecutor) -> list[str]:
    return [spec.node_path for spec in fake.ran]


def spec_of(fake: FakeExecutor, path: str) -> ExecSpec:
    return next(spec for spec in fake.ran if spec.node_path == path)


def states(store: Store, pipeline_id: int) -> dict[str, State | None]:
    return {node.path: node.state for node in store.nodes(pipeline_id)}


def messages(store: Store, pipeline_id: int) -> dict[str, str]:
    return {node.path: node.message for node in store.nodes(pipeline_id)}


class TestOrder:
    TREE = (
        IMAGE
        + "[pipeline.main.lint]\nparallel = true\n"
        + execs("ruff", "mypy", parent="pipeline.main.lint")
        + execs("build", "test")
    )

    def test_a_tree_runs_to_done_in_order(
        self, store: Store, fake: FakeExecutor, make_engine: Callable[..., Engine]
    ) -> None:
        pipeline_id = create_pipeline(store, self.TREE)
        for path in ("/lint/ruff", "/lint/mypy", "/build", "/test"):
            fake.expect(path, command=f"echo {path.rsplit('/', 1)[1]}")
        pipeline = make_engine(max_parallel=1).run_until_settled(pipeline_id)
        fake.assert_all_used()
        assert ran(fake) == ["/lint/ruff", "/lint/mypy", "/build", "/test"]
        assert (pipeline.state, pipeline.finished_at is not None) == (State.DONE, True)
        assert pipeline.lease_owner is None
        assert fake.released == [str(pipeline_id)]
        assert [e.state for e in store.executions(pipeline_id)] == [State.DONE] * 4

    def test_a_parallel_runs_its_children_at_once(
        self, store: Store, fake: FakeExecutor, engine: Engine
    ) -> None:
        pipeline_id = create_pipeline(store, self.TREE)
        for path in ("/lint/ruff", "/lint/mypy", "/build", "/test"):
            fake.expect(path)
        engine.run_until_settled(pipeline_id)
        fake.assert_all_used()
        assert set(ran(fake)[:2]) == {"/lint/ruff", "/lint/mypy"}
        assert ran(fake)[2:] == ["/build", "/test"]


class TestFailures:
    def test_retry_runs_a_failed_exec_again(
        self, store: Store, fake: FakeExecutor, engine: Engine
    ) -> None:
        pipeline_id = create_pipeline(store, IMAGE + execs("flaky", retry="1"))
        fake.expect("/flaky", ERROR).expect("/flaky")
        pipeline = engine.run_until_settled(pipeline_id)
        fake.assert_all_used()
        assert pipeline.state is State.DONE
        executions = store.executions(pipeline_id, "/flaky")
        assert [(e.attempt, e.state, e.exit_code) for e in executions] == [
            (1, State.ERROR, 1),
            (2, State.DONE, 0),
        ]

    def test_retries_run_out(self, store: Store, fake: FakeExecutor, engine: Engine) -> None:
        pipeline_id = create_pipeline(store, IMAGE + execs("flaky", retry="1"))
        fake.expect("/flaky", ERROR).expect("/flaky", ERROR)
        assert engine.run_until_settled(pipeline_id).state is State.ERROR
        fake.assert_all_used()

    def test_stop_on_error_then_reset(
        self, store: Store, fake: FakeExecutor, engine: Engine
    ) -> None:
        pipeline_id = create_pipeline(store, IMAGE + execs("a", "b", "c"))
        fake.expect("/a").expect("/b", ERROR, exit_code=2)
        pipeline = engine.run_until_settled(pipeline_id)
        fake.assert_all_used()
        assert pipeline.state is State.ERROR
        assert states(store, pipeline_id)["/c"] is State.PENDING
        assert messages(store, pipeline_id)["/b"] == "exited with code 2"

        store.reset(pipeline_id, "/b")
        fake.expect("/b").expect("/c")
        pipeline = engine.run_until_settled(pipeline_id)
        fake.assert_all_used()
        assert ran(fake) == ["/a", "/b", "/b", "/c"]
        assert pipeline.state is State.DONE
        assert len(store.executions(pipeline_id, "/a")) == 1  # done nodes keep theirs
        assert [e.state for e in store.executions(pipeline_id, "/b")] == [State.ERROR, State.DONE]


class TestLimits:
    def run_held(
        self, store: Store, fake: FakeExecutor, engine: Engine, hold: threading.Event, text: str
    ) -> int:
        """Run ``text``'s four Execs a..d, all held until two of them run; the peak."""
        pipeline_id = create_pipeline(store, text)
        for name in "abcd":
            fake.expect(f"/{name}", hold=hold)
        background = Background(engine, pipeline_id)
        wait_for(lambda: list(states(store, pipeline_id).values()).count(State.RUNNING) == 2)
        hold.set()
        assert background.join().state is State.DONE
        fake.assert_all_used()
        return fake.peak

    def test_max_concurrent(
        self, store: Store, fake: FakeExecutor, engine: Engine, hold: threading.Event
    ) -> None:
        text = IMAGE + "parallel = true\nmax_concurrent = 2\n" + execs(*"abcd")
        assert self.run_held(store, fake, engine, hold, text) == 2

    def test_max_parallel_of_the_host(
        self,
        store: Store,
        fake: FakeExecutor,
        make_engine: Callable[..., Engine],
        hold: threading.Event,
    ) -> None:
        text = IMAGE + "parallel = true\n" + execs(*"abcd")
        assert self.run_held(store, fake, make_engine(max_parallel=2), hold, text) == 2

    def test_a_concurrency_group(
        self, store: Store, fake: FakeExecutor, engine: Engine, hold: threading.Event
    ) -> None:
        text = IMAGE + "parallel = true\n" + execs("a", "b", concurrency="'db'") + execs("c")
        pipeline_id = create_pipeline(store, text)
        for name in "abc":
            fake.expect(f"/{name}", hold=hold)
        background = Background(engine, pipeline_id)
        wait_for(lambda: len(ran(fake)) == 2)
        assert sorted(ran(fake)) == ["/a", "/c"]
        hold.set()
        background.join()
        fake.assert_all_used()

    def test_a_concurrency_group_spans_pipelines_and_engines(
        self,
        store: Store,
        fake: FakeExecutor,
        make_engine: Callable[..., Engine],
        hold: threading.Event,
    ) -> None:
        text = IMAGE + execs("deploy", concurrency="'production'")
        first, second = create_pipeline(store, text), create_pipeline(store, text)
        fake.expect("/deploy", hold=hold).expect("/deploy")
        one, other = make_engine(), make_engine()  # two engines sharing one store
        background = Background(one, first)
        wait_for(lambda: len(ran(fake)) == 1)
        other.tick([second])
        time.sleep(0.05)
        other.tick([second])
        assert len(ran(fake)) == 1, "the group is busy in the other engine's pipeline"
        hold.set()
        background.join()
        assert other.run_until_settled(second).state is State.DONE
        fake.assert_all_used()


class TestControl:
    def test_cancel_kills_a_running_exec(
        self, store: Store, fake: FakeExecutor, engine: Engine, hold: threading.Event
    ) -> None:
        pipeline_id = create_pipeline(store, IMAGE + execs("a", "b", "c"))
        fake.expect("/a", hold=hold)
        background = Background(engine, pipeline_id)
        wait_for(lambda: states(store, pipeline_id)["/a"] is State.RUNNING)
        store.cancel(pipeline_id, actor="ann")
        pipeline = background.join()
        fake.assert_all_used()
        assert pipeline.state is State.CANCELLED
        assert states(store, pipeline_id) == {
            "/": None,
            "/a": State.CANCELLED,
            "/b": State.CANCELLED,
            "/c": State.CANCELLED,
        }
        (execution,) = store.executions(pipeline_id)
        assert (execution.state, execution.kill_requested) == (State.CANCELLED, True)

    def test_reset_of_a_running_exec_kills_it_and_runs_it_again(
        self, store: Store, fake: FakeExecutor, engine: Engine, hold: threading.Event
    ) -> None:
        pipeline_id = create_pipeline(store, IMAGE + execs("a", "b"))
        fake.expect("/a", hold=hold).expect("/a").expect("/b")
        background = Background(engine, pipeline_id)
        wait_for(lambda: states(store, pipeline_id)["/a"] is State.RUNNING)
        store.reset(pipeline_id, "/a", actor="ann")
        assert background.join().state is State.DONE
        fake.assert_all_used()
        executions = store.executions(pipeline_id, "/a")
        assert [e.state for e in executions] == [State.CANCELLED, State.DONE]

    def test_skip_and_unskip(self, store: Store, fake: FakeExecutor, engine: Engine) -> None:
        text = IMAGE + execs("build") + "[pipeline.main.release]\nskip = true\n"
        pipeline_id = create_pipeline(store, text + execs("push", parent="pipeline.main.release"))
        fake.expect("/build")
        assert engine.run_until_settled(pipeline_id).state is State.DONE
        assert states(store, pipeline_id)["/release/push"] is State.SKIPPED

        store.set_skip(pipeline_id, "/release", False, actor="ann")
        fake.expect("/release/push")
        assert engine.run_until_settled(pipeline_id).state is State.DONE
        fake.assert_all_used()
        assert ran(fake) == ["/build", "/release/push"]

    def test_a_node_skipped_before_it_runs_never_runs(
        self, store: Store, fake: FakeExecutor, engine: Engine
    ) -> None:
        pipeline_id = create_pipeline(store, IMAGE + execs("a", "b", "c"))
        store.set_skip(pipeline_id, "/b", True)
        fake.expect("/a").expect("/c")
        engine.run_until_settled(pipeline_id)
        fake.assert_all_used()
        assert states(store, pipeline_id)["/b"] is State.SKIPPED

    def test_when_false_is_skipped_and_never_run(
        self, store: Store, fake: FakeExecutor, engine: Engine
    ) -> None:
        text = IMAGE + execs("test") + execs("deploy", when="'{branch} == release'")
        pipeline_id = create_pipeline(store, text)
        fake.expect("/test")
        assert engine.run_until_settled(pipeline_id).state is State.DONE
        fake.assert_all_used()
        assert states(store, pipeline_id)["/deploy"] is State.SKIPPED


class TestRefusals:
    def test_a_missing_secret_is_named_not_its_neighbours_value(
        self, store: Store, fake: FakeExecutor, make_engine: Callable[..., Engine]
    ) -> None:
        text = IMAGE + execs("deploy", secrets='["TOKEN", "MISSING"]')
        pipeline_id = create_pipeline(store, text)
        engine = make_engine(secrets={"TOKEN": "hunter2"})
        assert engine.run_until_settled(pipeline_id).state is State.ERROR
        fake.assert_all_used()  # and nothing ran
        message = messages(store, pipeline_id)["/deploy"]
        assert "MISSING" in message and "hunter2" not in message
        (execution,) = store.executions(pipeline_id)
        assert (execution.state, execution.message) == (State.ERROR, message)

    def test_a_missing_image(self, store: Store, fake: FakeExecutor, engine: Engine) -> None:
        pipeline_id = create_pipeline(store, "[pipeline.main]\n" + execs("a"))
        assert engine.run_until_settled(pipeline_id).state is State.ERROR
        fake.assert_all_used()
        assert messages(store, pipeline_id)["/a"].startswith("no image")

    def test_requires_docker_is_refused_unless_allowed(
        self, store: Store, fake: FakeExecutor, make_engine: Callable[..., Engine]
    ) -> None:
        text = IMAGE + execs("dind", requires_docker="true")
        refused = create_pipeline(store, text)
        assert make_engine().run_until_settled(refused).state is State.ERROR
        assert "CI_BOT_ALLOW_DOCKER_SOCKET" in messages(store, refused)["/dind"]
        allowed = create_pipeline(store, text)
        fake.expect("/dind")
        engine = make_engine(allow_docker_socket=True)
        assert engine.run_until_settled(allowed).state is State.DONE
        fake.assert_all_used()
        assert spec_of(fake, "/dind").requires_docker


class TestSpec:
    TREE = """
        [pipeline.main]
        image = "alpine"
        env = { A = "root", B = "root", C = "root" }
        [pipeline.main.group]
        env = { B = "group", C = "group" }
        [pipeline.main.group.leaf]
        run = "env"
        env = { C = "leaf" }
        [pipeline.main.deploy]
        run = "deploy"
        image = "deployer"
        secrets = ["TOKEN"]
        """

    def test_context_and_inherited_env(
        self, store: Store, fake: FakeExecutor, make_engine: Callable[..., Engine]
    ) -> None:
        pipeline_id = create_pipeline(store, self.TREE)
        fake.expect("/group/leaf").expect("/deploy")
        make_engine(secrets={"TOKEN": "t0k", "OTHER": "x"}).run_until_settled(pipeline_id)
        fake.assert_all_used()
        leaf = spec_of(fake, "/group/leaf")
        assert {k: leaf.env[k] for k in "ABC"} == {"A": "root", "B": "group", "C": "leaf"}
        assert leaf.env["CI"] == "true"
        assert leaf.env["CI_EVENT"] == "push"
        assert leaf.env["CI_BRANCH"] == "main"
        assert leaf.env["CI_SHA"] == "abc123"
        assert leaf.env["CI_REPO"] == "acme/app"
        assert leaf.env["CI_PIPELINE_ID"] == str(pipeline_id)
        assert leaf.env["CI_NODE_PATH"] == "/group/leaf"
        assert (leaf.image, leaf.command, leaf.pipeline_id) == ("alpine", "env", str(pipeline_id))
        assert spec_of(fake, "/deploy").image == "deployer"

    def test_secrets_reach_only_the_nodes_that_name_them(
        self, store: Store, fake: FakeExecutor, make_engine: Callable[..., Engine]
    ) -> None:
        pipeline_id = create_pipeline(store, self.TREE)
        fake.expect("/group/leaf").expect("/deploy")
        make_engine(secrets={"TOKEN": "t0k", "OTHER": "x"}).run_until_settled(pipeline_id)
        assert spec_of(fake, "/group/leaf").secrets == {}
        deploy = spec_of(fake, "/deploy")
        assert deploy.secrets == {"TOKEN": "t0k"}
        assert "t0k" not in deploy.env.values()


class TestEngines:
    def test_a_second_engine_cannot_drive_a_leased_pipeline(
        self,
        store: Store,
        fake: FakeExecutor,
        make_engine: Callable[..., Engine],
        hold: threading.Event,
    ) -> None:
        pipeline_id = create_pipeline(store, IMAGE + execs("a", "b"))
        first, second = make_engine(), make_engine()
        fake.expect("/a", hold=hold).expect("/b")
        first.tick([pipeline_id])
        wait_for(lambda: states(store, pipeline_id)["/a"] is State.RUNNING)
        assert not store.claim(pipeline_id, second.owner, ttl=30)
        second.tick([pipeline_id])
        assert ran(fake) == ["/a"]
        assert store.pipeline(pipeline_id).lease_owner == first.owner
        hold.set()
        assert first.run_until_settled(pipeline_id).state is State.DONE
        assert ran(fake) == ["/a", "/b"]
        fake.assert_all_used()

    def test_start_drives_unfinished_pipelines_in_the_background(
        self, store: Store, fake: FakeExecutor, engine: Engine
    ) -> None:
        first = create_pipeline(store, IMAGE + execs("a", "b"))
        second = create_pipeline(store, IMAGE + execs("c"))
        fake.expect("/a").expect("/b").expect("/c")
        engine.start()
        try:
            wait_for(lambda: store.unfinished() == [])
            wait_for(lambda: sorted(fake.released) == [str(first), str(second)])
        finally:
            engine.stop()
        fake.assert_all_used()
        assert store.pipeline(first).state is State.DONE
        assert store.pipeline(second).state is State.DONE
        assert store.pipeline(first).lease_owner is None
        assert store.pipeline(second).lease_owner is None

    def test_an_execution_left_by_a_dead_engine_is_retried(
        self, store: Store, fake: FakeExecutor, engine: Engine
    ) -> None:
        pipeline_id = create_pipeline(store, IMAGE + execs("a"))
        store.claim(pipeline_id, dead_owner(), ttl=30)
        orphan = store.queue(pipeline_id, "/a", "/logs")
        store.mark_running(orphan.id, "gone")
        fake.expect("/a")
        assert engine.run_until_settled(pipeline_id).state is State.DONE
        fake.assert_all_used()
        executions = store.executions(pipeline_id, "/a")
        assert [e.state for e in executions] == [State.WORKER_ERROR, State.DONE]
        assert "container is gone" in executions[0].message


def dead_owner() -> str:
    """A lease owner on this host whose process has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:deadbeef"


def test_a_bug_while_finishing_ends_the_node_worker_error_not_running_forever(
    store: Store, fake: FakeExecutor, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline_id = create_pipeline(store, IMAGE + execs("a"))
    fake.expect("/a")

    def broken(job: object, key: object, reused: object, result: object) -> None:
        raise RuntimeError("a bug in the bot")

    monkeypatch.setattr(engine.artifacts, "after_done", broken)
    assert engine.run_until_settled(pipeline_id).state is State.WORKER_ERROR
    assert "see the bot's log" in messages(store, pipeline_id)["/a"]
