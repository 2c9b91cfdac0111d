"""The store: the one write path, its run events, resets, skips, cancels and leases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from ci_bot.store.records import CommandChange, Execution
from ci_bot.store.store import NotFound, Store, utcnow
from ci_bot.store.tables import PipelineRow
from ci_bot.store.views import pipeline_json
from ci_bot.tree.states import State
from tests.pipelines import create_pipeline

P, Q, R, D, E = State.PENDING, State.QUEUED, State.RUNNING, State.DONE, State.ERROR
C, S = State.CANCELLED, State.SKIPPED

TREE = """
[pipeline.main]
image = "alpine"
[pipeline.main.lint]
parallel = true
[pipeline.main.lint.ruff]
run = "ruff"
[pipeline.main.lint.mypy]
run = "mypy"
[pipeline.main.build]
run = "build"
[pipeline.main.deploy]
skip = true
[pipeline.main.deploy.push]
run = "push"
[pipeline.main.deploy.tell]
run = "tell"
"""


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


def create(store: Store, text: str = TREE) -> int:
    return create_pipeline(store, text)


def run(store: Store, pipeline_id: int, path: str, state: State = D, **finish: int) -> Execution:
    """Queue, start and finish one execution of ``path``."""
    execution = store.queue(pipeline_id, path, "/logs")
    store.mark_running(execution.id, f"container-{execution.id}")
    store.finish(
        execution.id, state, exit_code=0 if state is D else 1, message=str(state), **finish
    )
    return store.execution(execution.id)


def start(store: Store, pipeline_id: int, path: str) -> Execution:
    execution = store.queue(pipeline_id, path, "/logs")
    store.mark_running(execution.id, f"container-{execution.id}")
    return store.execution(execution.id)


def states(store: Store, pipeline_id: int) -> dict[str, State | None]:
    return {node.path: node.state for node in store.nodes(pipeline_id)}


def kinds(store: Store, pipeline_id: int, after: int = 0) -> list[tuple[str, str, str]]:
    return [(e.path, e.kind, e.state) for e in store.events(pipeline_id, after)]


class TestCreate:
    def test_nodes_are_stored_in_tree_order_with_execs_pending(self, store: Store) -> None:
        pipeline_id = create(store)
        nodes = store.nodes(pipeline_id)
        assert [(n.path, n.type) for n in nodes] == [
            ("/", "serial"),
            ("/lint", "parallel"),
            ("/lint/ruff", "exec"),
            ("/lint/mypy", "exec"),
            ("/build", "exec"),
            ("/deploy", "serial"),
            ("/deploy/push", "exec"),
            ("/deploy/tell", "exec"),
        ]
        assert states(store, pipeline_id) == {
            "/": None,
            "/lint": None,
            "/lint/ruff": P,
            "/lint/mypy": P,
            "/build": P,
            "/deploy": None,
            "/deploy/push": S,
            "/deploy/tell": S,
        }

    def test_a_skip_keeps_its_reason(self, store: Store) -> None:
        text = TREE + '[pipeline.main.notify]\nrun = "notify"\nwhen = "{branch} == release"\n'
        pipeline_id = create(store, text)
        nodes = {node.path: node for node in store.nodes(pipeline_id)}
        assert nodes["/deploy"].skip
        assert nodes["/deploy"].skip_reason == "skip = true in the config"
        assert nodes["/notify"].state is S
        assert nodes["/notify"].skip_reason.startswith("when '{branch} == release' is false")
        assert not nodes["/build"].skip

    def test_a_new_pipeline_is_pending_and_unfinished(self, store: Store) -> None:
        pipeline_id = create(store)
        pipeline = store.pipeline(pipeline_id)
        assert (pipeline.state, pipeline.repo, pipeline.sha) == (P, "acme/app", "abc123")
        assert pipeline.finished_at is None
        assert store.unfinished() == [pipeline_id]
        assert kinds(store, pipeline_id) == [("/", "created", "pending")]

    def test_unknown_ids_and_paths_raise_not_found(self, store: Store) -> None:
        pipeline_id = create(store)
        with pytest.raises(NotFound):
            store.pipeline(999)
        with pytest.raises(NotFound):
            store.execution(999)
        with pytest.raises(NotFound):
            store.queue(pipeline_id, "/nope", "/logs")
        with pytest.raises(NotFound):
            store.reset(pipeline_id, "/nope")
        with pytest.raises(NotFound):
            store.set_skip(pipeline_id, "/nope", True)
        with pytest.raises(NotFound):
            store.finish(999, D)
        with pytest.raises(NotFound):
            store.cancel(999)


class TestExecutions:
    def test_queue_run_finish(self, store: Store) -> None:
        pipeline_id = create(store)
        queued = store.queue(pipeline_id, "/lint/ruff", "/logs")
        assert (queued.attempt, queued.state) == (1, Q)
        assert queued.log_path == f"/logs/{queued.id}.log"
        assert states(store, pipeline_id)["/lint/ruff"] is Q
        store.mark_running(queued.id, "c1")
        assert states(store, pipeline_id)["/lint/ruff"] is R
        store.finish(queued.id, E, exit_code=3, message="exited with code 3")
        execution = store.execution(queued.id)
        assert (execution.state, execution.exit_code, execution.container_id) == (E, 3, "c1")
        assert execution.started_at is not None and execution.ended_at is not None
        assert execution.started_at <= execution.ended_at
        node = {n.path: n for n in store.nodes(pipeline_id)}["/lint/ruff"]
        assert (node.state, node.message) == (E, "exited with code 3")

    def test_every_change_has_an_event_in_order(self, store: Store) -> None:
        pipeline_id = create(store)
        first = store.events(pipeline_id)[-1].id
        run(store, pipeline_id, "/lint/ruff")
        assert kinds(store, pipeline_id, after=first) == [
            ("/lint/ruff", "state", "queued"),
            ("/", "pipeline", "queued"),
            ("/lint/ruff", "state", "running"),
            ("/", "pipeline", "running"),
            ("/lint/ruff", "state", "done"),
            ("/", "pipeline", "pending"),
        ]
        ids = [event.id for event in store.events(pipeline_id)]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert store.events(pipeline_id, after=ids[-1]) == []

    def test_events_are_append_only(self, store: Store) -> None:
        pipeline_id = create(store)
        before = store.events(pipeline_id)
        run(store, pipeline_id, "/lint/ruff")
        store.reset(pipeline_id, "/")
        after = store.events(pipeline_id)
        assert after[: len(before)] == before

    def test_the_pipeline_state_follows_its_execs(self, store: Store) -> None:
        pipeline_id = create(store)
        ruff = start(store, pipeline_id, "/lint/ruff")
        assert store.pipeline(pipeline_id).state is R
        store.finish(ruff.id, D)
        assert store.pipeline(pipeline_id).state is P
        run(store, pipeline_id, "/lint/mypy")
        run(store, pipeline_id, "/build")
        pipeline = store.pipeline(pipeline_id)
        assert (pipeline.state, pipeline.finished_at is not None) == (D, True)
        assert store.unfinished() == []
        assert kinds(store, pipeline_id)[-1] == ("/", "finished", "done")

    def test_error_wins_over_running(self, store: Store) -> None:
        pipeline_id = create(store)
        start(store, pipeline_id, "/lint/ruff")
        run(store, pipeline_id, "/lint/mypy", E)
        pipeline = store.pipeline(pipeline_id)
        assert (pipeline.state, pipeline.finished_at) == (E, None)

    def test_a_failure_within_retry_goes_back_to_pending(self, store: Store) -> None:
        pipeline_id = create(store)
        first = start(store, pipeline_id, "/lint/ruff")
        assert store.finish(first.id, E, exit_code=1, retry_limit=2)
        assert states(store, pipeline_id)["/lint/ruff"] is P
        assert kinds(store, pipeline_id)[-3:] == [
            ("/lint/ruff", "state", "error"),
            ("/lint/ruff", "retry", "pending"),
            ("/", "pipeline", "pending"),
        ]
        assert store.events(pipeline_id)[-2].message == "retrying (1 of 2)"
        second = start(store, pipeline_id, "/lint/ruff")
        assert second.attempt == 2
        assert store.finish(second.id, E, exit_code=1, retry_limit=2)
        third = start(store, pipeline_id, "/lint/ruff")
        assert not store.finish(third.id, E, exit_code=1, retry_limit=2)
        assert states(store, pipeline_id)["/lint/ruff"] is E
        assert [e.attempt for e in store.executions(pipeline_id, "/lint/ruff")] == [1, 2, 3]


class TestReset:
    def test_reset_makes_execs_pending_and_keeps_executions(self, store: Store) -> None:
        pipeline_id = create(store)
        old_ruff = run(store, pipeline_id, "/lint/ruff")
        run(store, pipeline_id, "/lint/mypy", E)
        assert store.reset(pipeline_id, "/lint") == ["/lint/ruff", "/lint/mypy"]
        assert states(store, pipeline_id)["/lint/ruff"] is P
        assert states(store, pipeline_id)["/lint/mypy"] is P
        assert store.executions(pipeline_id, "/lint/ruff") == [old_ruff]
        new = store.queue(pipeline_id, "/lint/ruff", "/logs")
        assert new.attempt == 2
        assert ("/lint", "reset", "pending") in kinds(store, pipeline_id)

    def test_reset_clears_the_failure_count(self, store: Store) -> None:
        pipeline_id = create(store)
        run(store, pipeline_id, "/lint/ruff", E, retry_limit=1)  # 1 of 1: retried
        run(store, pipeline_id, "/lint/ruff", E, retry_limit=1)  # 2 of 1: error
        assert states(store, pipeline_id)["/lint/ruff"] is E
        store.reset(pipeline_id, "/lint/ruff")
        again = start(store, pipeline_id, "/lint/ruff")
        assert store.finish(again.id, E, retry_limit=1)

    def test_reset_of_a_running_exec_asks_for_a_kill(self, store: Store) -> None:
        pipeline_id = create(store)
        running = start(store, pipeline_id, "/lint/ruff")
        assert store.kill_requests(pipeline_id) == []
        store.reset(pipeline_id, "/")
        assert [e.id for e in store.kill_requests(pipeline_id)] == [running.id]
        assert states(store, pipeline_id)["/lint/ruff"] is P

    def test_an_old_execution_ending_after_a_reset_changes_nothing(self, store: Store) -> None:
        pipeline_id = create(store)
        old = start(store, pipeline_id, "/lint/ruff")
        store.reset(pipeline_id, "/lint/ruff")
        store.finish(old.id, C, message="killed")
        assert states(store, pipeline_id)["/lint/ruff"] is P
        new = start(store, pipeline_id, "/lint/ruff")
        store.finish(old.id, E, message="late")  # even once a new one runs
        assert states(store, pipeline_id)["/lint/ruff"] is R
        store.finish(new.id, D)
        assert states(store, pipeline_id)["/lint/ruff"] is D
        assert store.execution(old.id).state is E

    def test_finished_at_is_set_when_settled_and_cleared_by_a_reset(self, store: Store) -> None:
        pipeline_id = create(store)
        run(store, pipeline_id, "/lint/ruff")
        run(store, pipeline_id, "/lint/mypy", E)
        pipeline = store.pipeline(pipeline_id)
        assert (pipeline.state, pipeline.finished_at is not None) == (E, True)
        assert states(store, pipeline_id)["/build"] is P  # stop_on_error: waits for a reset
        store.reset(pipeline_id, "/lint/mypy")
        pipeline = store.pipeline(pipeline_id)
        assert (pipeline.state, pipeline.finished_at) == (P, None)
        assert store.unfinished() == [pipeline_id]

    def test_reset_keeps_skipped_execs_skipped(self, store: Store) -> None:
        pipeline_id = create(store)
        store.reset(pipeline_id, "/")
        assert states(store, pipeline_id)["/deploy/push"] is S


class TestResetWithANewCommand:
    def test_the_tree_changes_and_the_next_execution_records_who_changed_what(
        self, store: Store
    ) -> None:
        pipeline_id = create(store)
        old = run(store, pipeline_id, "/build", E)

        assert store.reset(pipeline_id, "/build", actor="alice", run="make -j1") == ["/build"]

        assert store.tree(pipeline_id).find("/build").run == "make -j1"  # type: ignore[union-attr]
        assert '"run": "make -j1"' in store.pipeline(pipeline_id).tree_json
        assert store.executions(pipeline_id, "/build") == [old]  # the old one untouched
        assert old.command_change is None
        reset = [e for e in store.events(pipeline_id) if e.kind == "reset"]
        assert [(e.path, e.actor, e.message) for e in reset] == [
            ("/build", "alice", "new command: make -j1 (was: build)")
        ]
        new = run(store, pipeline_id, "/build")
        assert new.command_change == CommandChange("alice", "build", "make -j1")
        assert store.execution(new.id).command_change == new.command_change
        retried = run(store, pipeline_id, "/build")  # a later run of the same command
        assert retried.command_change is None
        assert [e.attempt for e in store.executions(pipeline_id, "/build")] == [1, 2, 3]

    def test_the_change_is_in_the_pipelines_json(self, store: Store) -> None:
        pipeline_id = create(store)
        run(store, pipeline_id, "/lint/ruff", E)
        store.reset(pipeline_id, "/lint/ruff", actor="bob", run="ruff check --fix")
        run(store, pipeline_id, "/lint/ruff")
        ruff = next(
            n for n in pipeline_json(store, pipeline_id)["nodes"] if n["path"] == "/lint/ruff"
        )
        first, second = ruff["executions"]
        assert first["command_change"] is None
        assert second["command_change"] == {"by": "bob", "old": "ruff", "new": "ruff check --fix"}

    def test_two_changes_before_it_runs_keep_the_command_it_last_ran(self, store: Store) -> None:
        pipeline_id = create(store)
        run(store, pipeline_id, "/build", E)
        store.reset(pipeline_id, "/build", actor="alice", run="make -j1")
        store.reset(pipeline_id, "/build", actor="bob", run="make -j2")
        store.reset(pipeline_id, "/build", actor="carol")  # a plain reset keeps the change
        assert run(store, pipeline_id, "/build").command_change == CommandChange(
            "bob", "build", "make -j2"
        )
        store.reset(pipeline_id, "/build", actor="dan", run="make")
        store.reset(pipeline_id, "/build", actor="dan", run="make -j2")  # back: no change
        assert run(store, pipeline_id, "/build").command_change is None
        assert store.tree(pipeline_id).find("/build").run == "make -j2"  # type: ignore[union-attr]

    def test_the_same_command_is_a_plain_reset(self, store: Store) -> None:
        pipeline_id = create(store)
        run(store, pipeline_id, "/build", E)
        store.reset(pipeline_id, "/build", actor="alice", run="build")
        assert run(store, pipeline_id, "/build").command_change is None
        assert [e.message for e in store.events(pipeline_id) if e.kind == "reset"] == [""]

    @pytest.mark.parametrize(
        ("path", "command", "words"),
        [("/lint", "echo", "/lint is a parallel"), ("/build", " ", "the new command is empty")],
    )
    def test_a_parent_or_an_empty_command_is_refused_and_nothing_changes(
        self, store: Store, path: str, command: str, words: str
    ) -> None:
        pipeline_id = create(store)
        run(store, pipeline_id, "/lint/ruff", E)
        before = (store.pipeline(pipeline_id).tree_json, states(store, pipeline_id))
        events = kinds(store, pipeline_id)
        with pytest.raises(ValueError, match=words):
            store.reset(pipeline_id, path, actor="alice", run=command)
        assert (store.pipeline(pipeline_id).tree_json, states(store, pipeline_id)) == before
        assert kinds(store, pipeline_id) == events
        with pytest.raises(NotFound):
            store.reset(pipeline_id, "/nope", run="echo")

    def test_another_process_runs_the_new_command(self, database_url: str) -> None:
        """An engine elsewhere holds the tree it parsed; it must not run the old command."""
        engine_side, cli_side = Store(database_url), Store(database_url)
        try:
            pipeline_id = create(engine_side)
            run(engine_side, pipeline_id, "/build", E)
            assert engine_side.tree(pipeline_id).find("/build").run == "build"  # type: ignore[union-attr]
            cli_side.reset(pipeline_id, "/build", actor="alice", run="make -j1")
            queued = engine_side.queue(pipeline_id, "/build", "/logs")  # a write: sees it
            assert engine_side.tree(pipeline_id).find("/build").run == "make -j1"  # type: ignore[union-attr]
            assert queued.command_change == CommandChange("alice", "build", "make -j1")
            cli_side.reset(pipeline_id, "/build", actor="bob", run="make -j2")
            engine_side.pipeline(pipeline_id)  # a read of the pipeline sees it too
            assert engine_side.tree(pipeline_id).find("/build").run == "make -j2"  # type: ignore[union-attr]
        finally:
            engine_side.close()
            cli_side.close()


class TestSkipAndCancel:
    def test_skip_and_unskip_a_serial(self, store: Store) -> None:
        pipeline_id = create(store)
        store.set_skip(pipeline_id, "/lint", True, actor="ann")
        assert states(store, pipeline_id)["/lint/ruff"] is S
        assert states(store, pipeline_id)["/lint/mypy"] is S
        nodes = {n.path: n for n in store.nodes(pipeline_id)}
        assert nodes["/lint"].skip_reason == "skipped by ann"
        store.set_skip(pipeline_id, "/deploy", False, actor="ann")
        assert states(store, pipeline_id)["/deploy/push"] is P
        store.set_skip(pipeline_id, "/lint", False)
        assert states(store, pipeline_id)["/lint/ruff"] is P
        assert [e.kind for e in store.events(pipeline_id)][-3:] == ["skip", "unskip", "unskip"]
        assert store.events(pipeline_id)[-3].actor == "ann"

    def test_skip_leaves_finished_execs_alone(self, store: Store) -> None:
        pipeline_id = create(store)
        run(store, pipeline_id, "/lint/ruff")
        store.set_skip(pipeline_id, "/lint", True)
        assert states(store, pipeline_id)["/lint/ruff"] is D
        assert states(store, pipeline_id)["/lint/mypy"] is S

    def test_skipping_what_is_left_settles_the_pipeline(self, store: Store) -> None:
        pipeline_id = create(store)
        run(store, pipeline_id, "/lint/ruff")
        run(store, pipeline_id, "/lint/mypy")
        store.set_skip(pipeline_id, "/build", True)
        pipeline = store.pipeline(pipeline_id)
        assert (pipeline.state, pipeline.finished_at is not None) == (D, True)
        store.set_skip(pipeline_id, "/build", False)
        assert store.pipeline(pipeline_id).finished_at is None

    def test_cancel(self, store: Store) -> None:
        pipeline_id = create(store)
        running = start(store, pipeline_id, "/lint/ruff")
        store.cancel(pipeline_id, actor="bob")
        assert states(store, pipeline_id)["/lint/mypy"] is C
        assert states(store, pipeline_id)["/build"] is C
        assert states(store, pipeline_id)["/deploy/push"] is S
        assert states(store, pipeline_id)["/lint/ruff"] is R  # until its engine kills it
        assert [e.id for e in store.kill_requests(pipeline_id)] == [running.id]
        pipeline = store.pipeline(pipeline_id)
        assert (pipeline.cancel_requested, pipeline.finished_at) == (True, None)
        store.finish(running.id, C, message="cancelled")
        pipeline = store.pipeline(pipeline_id)
        assert (pipeline.state, pipeline.finished_at is not None) == (C, True)
        assert store.kill_requests(pipeline_id) == []

    def test_cancel_of_a_queued_exec(self, store: Store) -> None:
        pipeline_id = create(store)
        queued = store.queue(pipeline_id, "/lint/ruff", "/logs")
        store.cancel(pipeline_id)
        assert states(store, pipeline_id)["/lint/ruff"] is C
        assert [e.id for e in store.kill_requests(pipeline_id)] == [queued.id]
        store.finish(queued.id, C, message="cancelled before it started")
        assert store.pipeline(pipeline_id).state is C


class TestLeases:
    def test_one_owner_at_a_time(self, store: Store) -> None:
        pipeline_id = create(store)
        assert store.claim(pipeline_id, "A", ttl=30)
        assert store.claim(pipeline_id, "A", ttl=30)  # renewal
        assert not store.claim(pipeline_id, "B", ttl=30)
        assert store.pipeline(pipeline_id).lease_owner == "A"
        assert store.claim(pipeline_id, "B", ttl=30, steal_from="A")
        assert not store.claim(pipeline_id, "A", ttl=30)
        store.release(pipeline_id, "A")  # not A's any more: no effect
        assert store.pipeline(pipeline_id).lease_owner == "B"
        store.release(pipeline_id, "B")
        assert store.claim(pipeline_id, "A", ttl=30)

    def test_an_expired_lease_can_be_taken(self, store: Store) -> None:
        pipeline_id = create(store)
        assert store.claim(pipeline_id, "A", ttl=30)
        with store.engine.begin() as conn:
            past = utcnow() - timedelta(seconds=1)
            conn.execute(update(PipelineRow).values(lease_until=past))
        assert store.claim(pipeline_id, "B", ttl=30)
        assert store.pipeline(pipeline_id).lease_owner == "B"

    def test_claiming_a_missing_pipeline_fails(self, store: Store) -> None:
        assert not store.claim(999, "A", ttl=30)


def test_two_stores_on_one_database_write_concurrently(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    """As two processes would: on SQLite WAL, BEGIN IMMEDIATE and a busy timeout mean
    never "locked"; PostgreSQL takes the same writes from both."""
    stores = [Store(database_url), Store(database_url)]
    for opened in stores:
        request.addfinalizer(opened.close)
    text = "[pipeline.main]\nparallel = true\n" + "".join(
        f'[pipeline.main.n{i}]\nrun = "x"\n' for i in range(8)
    )
    pipeline_ids = [create(stores[0], text) for _ in range(4)]
    errors: list[BaseException] = []

    def work(store: Store, pipeline_id: int) -> None:
        try:
            for i in range(8):
                run(store, pipeline_id, f"/n{i}")
                store.claim(pipeline_id, f"owner-{pipeline_id}", ttl=30)
                store.add_event(pipeline_id, "/", "note", str(i))
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=work, args=(stores[i % 2], pipeline_id))
        for i, pipeline_id in enumerate(pipeline_ids)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for pipeline_id in pipeline_ids:
        assert stores[1].pipeline(pipeline_id).state is D
        assert len(stores[0].executions(pipeline_id)) == 8


def test_pipeline_json_has_the_contract_shape(store: Store) -> None:
    pipeline_id = create(store)
    done = run(store, pipeline_id, "/lint/ruff")
    data = pipeline_json(store, pipeline_id)
    assert {"id", "state", "repo", "event", "branch", "sha", "nodes"} <= set(data)
    assert (data["id"], data["state"], data["repo"]) == (pipeline_id, "pending", "acme/app")
    assert (data["event"], data["branch"], data["sha"]) == ("push", "main", "abc123")
    paths = [node["path"] for node in data["nodes"]]
    assert paths == [
        "/",
        "/lint",
        "/lint/ruff",
        "/lint/mypy",
        "/build",
        "/deploy",
        "/deploy/push",
        "/deploy/tell",
    ]
    nodes = {node["path"]: node for node in data["nodes"]}
    assert nodes["/lint"] == {"path": "/lint", "type": "parallel", "state": "pending"}
    assert nodes["/deploy"]["state"] == "skipped"
    assert nodes["/deploy"]["skip_reason"] == "skip = true in the config"
    assert nodes["/build"]["executions"] == []
    (execution,) = nodes["/lint/ruff"]["executions"]
    assert {"attempt", "state", "exit_code", "started_at", "ended_at", "reused_from"} <= set(
        execution
    )
    assert (execution["id"], execution["attempt"], execution["state"]) == (done.id, 1, "done")
    assert (execution["exit_code"], execution["reused_from"]) == (0, None)
    assert execution["started_at"].endswith("Z") and execution["ended_at"].endswith("Z")
