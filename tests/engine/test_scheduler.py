"""The scheduler's pure decisions: what may start now (design doc §2, §5)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ci_bot.engine.scheduler import ACTIVE, Limits, is_settled, node_states, pick, ready
from ci_bot.tree.nodes import Node, NodeType, exec_paths, join_path, walk
from ci_bot.tree.params import Params
from ci_bot.tree.states import State
from tests.pipelines import tree

P, Q, R, D, E = State.PENDING, State.QUEUED, State.RUNNING, State.DONE, State.ERROR
WE, C, S = State.WORKER_ERROR, State.CANCELLED, State.SKIPPED


def execs(*names: str, parent: str = "[pipeline.main]") -> str:
    """TOML for Exec children ``names`` below the table ``parent``."""
    prefix = parent.strip("[]")
    return "".join(f'[{prefix}.{name}]\nrun = "{name}"\n' for name in names)


SERIAL = tree(execs("a", "b", "c"))
PARALLEL = tree("[pipeline.main]\nparallel = true\n" + execs("a", "b", "c"))
NESTED = tree(
    """
    [pipeline.main]
    [pipeline.main.lint]
    parallel = true
    [pipeline.main.lint.ruff]
    run = "ruff"
    [pipeline.main.lint.mypy]
    run = "mypy"
    [pipeline.main.build]
    run = "build"
    [pipeline.main.test]
    parallel = true
    [pipeline.main.test.unit]
    run = "unit"
    [pipeline.main.test.steps]
    [pipeline.main.test.steps.one]
    run = "one"
    [pipeline.main.test.steps.two]
    run = "two"
    """
)


class TestSerialAndParallel:
    def test_a_serial_offers_only_its_first_unfinished_child(self) -> None:
        assert ready(SERIAL, {}) == ["/a"]
        assert ready(SERIAL, {"/a": D}) == ["/b"]
        assert ready(SERIAL, {"/a": D, "/b": D}) == ["/c"]

    def test_a_serial_waits_for_a_running_child(self) -> None:
        assert ready(SERIAL, {"/a": R}) == []
        assert ready(SERIAL, {"/a": Q}) == []

    def test_a_parallel_offers_every_pending_child(self) -> None:
        assert ready(PARALLEL, {}) == ["/a", "/b", "/c"]
        assert ready(PARALLEL, {"/a": R, "/b": D}) == ["/c"]

    def test_nested_trees_follow_both_rules(self) -> None:
        assert ready(NESTED, {}) == ["/lint/ruff", "/lint/mypy"]
        assert ready(NESTED, {"/lint/ruff": D, "/lint/mypy": R}) == []
        assert ready(NESTED, {"/lint/ruff": D, "/lint/mypy": D}) == ["/build"]
        after_build = {"/lint/ruff": D, "/lint/mypy": D, "/build": D}
        assert ready(NESTED, after_build) == ["/test/unit", "/test/steps/one"]
        running = {**after_build, "/test/unit": R, "/test/steps/one": D}
        assert ready(NESTED, running) == ["/test/steps/two"]

    def test_skipped_children_are_passed_over(self) -> None:
        assert ready(SERIAL, {"/a": S, "/b": S}) == ["/c"]
        assert ready(SERIAL, {"/a": D, "/b": S}) == ["/c"]


class TestErrors:
    def test_stop_on_error_leaves_later_siblings_pending(self) -> None:
        for failure in (E, WE):
            states = {"/a": D, "/b": failure}
            assert ready(SERIAL, states) == []
            assert is_settled(SERIAL, states)
            assert node_states(SERIAL, states)["/c"] is P
            assert node_states(SERIAL, states)["/"] is failure

    def test_without_stop_on_error_the_next_sibling_runs(self) -> None:
        root = tree("[pipeline.main]\nstop_on_error = false\n" + execs("a", "b", "c"))
        assert ready(root, {"/a": E}) == ["/b"]
        assert ready(root, {"/a": E, "/b": WE}) == ["/c"]
        assert node_states(root, {"/a": E, "/b": D, "/c": D})["/"] is E

    def test_stop_on_error_is_the_serials_own_setting(self) -> None:
        root = tree(
            """
            [pipeline.main]
            stop_on_error = false
            [pipeline.main.inner]
            stop_on_error = true
            [pipeline.main.inner.x]
            run = "x"
            [pipeline.main.inner.y]
            run = "y"
            [pipeline.main.last]
            run = "last"
            """
        )
        # The inner Serial stops at x; the outer one, which does not stop, moves on.
        assert ready(root, {"/inner/x": E}) == ["/last"]

    def test_suppress_errors_lets_the_serial_move_on(self) -> None:
        root = tree(
            """
            [pipeline.main]
            [pipeline.main.checks]
            parallel = true
            suppress_errors = true
            [pipeline.main.checks.a]
            run = "a"
            [pipeline.main.checks.b]
            run = "b"
            [pipeline.main.deploy]
            run = "deploy"
            """
        )
        states = {"/checks/a": E, "/checks/b": D}
        assert node_states(root, states)["/checks"] is D
        assert ready(root, states) == ["/deploy"]
        assert node_states(root, {**states, "/deploy": D})["/"] is D

    def test_a_suppressing_serial_that_stopped_on_an_error_ends_done(self) -> None:
        # b waits behind the failed a (stop_on_error); the Serial suppresses the
        # error, so once nothing runs it is done, not pending forever.
        root = tree("[pipeline.main]\nsuppress_errors = true\n" + execs("a", "b"))
        assert ready(root, {"/a": E}) == []
        assert is_settled(root, {"/a": E})
        assert node_states(root, {"/a": E})["/"] is D

    def test_a_suppressed_failure_does_not_hide_running_siblings(self) -> None:
        root = tree("[pipeline.main]\nparallel = true\nsuppress_errors = true\n" + execs("a", "b"))
        assert node_states(root, {"/a": E, "/b": R})["/"] is R
        assert node_states(root, {"/a": E, "/b": D})["/"] is D

    def test_a_failed_parallel_still_runs_its_other_children(self) -> None:
        # The Parallel shows error as soon as one child fails, but it is not finished:
        # its other children still run, and the Serial waits for them.
        root = tree(
            """
            [pipeline.main]
            [pipeline.main.checks]
            parallel = true
            [pipeline.main.checks.a]
            run = "a"
            [pipeline.main.checks.b]
            run = "b"
            [pipeline.main.deploy]
            run = "deploy"
            """
        )
        assert node_states(root, {"/checks/a": E})["/checks"] is E
        assert ready(root, {"/checks/a": E}) == ["/checks/b"]
        assert not is_settled(root, {"/checks/a": E})
        assert ready(root, {"/checks/a": E, "/checks/b": D}) == []

    def test_a_failed_child_still_running_holds_a_serial_without_stop_on_error(self) -> None:
        root = tree(
            """
            [pipeline.main]
            stop_on_error = false
            [pipeline.main.checks]
            parallel = true
            [pipeline.main.checks.a]
            run = "a"
            [pipeline.main.checks.b]
            run = "b"
            [pipeline.main.deploy]
            run = "deploy"
            """
        )
        assert ready(root, {"/checks/a": E, "/checks/b": R}) == []
        assert ready(root, {"/checks/a": E, "/checks/b": D}) == ["/deploy"]

    def test_a_cancelled_child_stops_a_serial(self) -> None:
        root = tree("[pipeline.main]\nstop_on_error = false\n" + execs("a", "b"))
        assert ready(root, {"/a": C}) == []
        assert is_settled(root, {"/a": C})
        assert node_states(root, {"/a": C, "/b": C})["/"] is C


class TestMaxConcurrent:
    LIMITED = tree("[pipeline.main]\nparallel = true\nmax_concurrent = 3\n" + execs(*"abcde"))

    def test_running_execs_count_against_the_limit(self) -> None:
        assert ready(self.LIMITED, {}) == ["/a", "/b", "/c"]
        assert ready(self.LIMITED, {"/a": R, "/b": R}) == ["/c"]
        assert ready(self.LIMITED, {"/a": R, "/b": Q}) == ["/c"]
        assert ready(self.LIMITED, {"/a": R, "/b": R, "/c": R}) == []
        assert ready(self.LIMITED, {"/a": D, "/b": E, "/c": R}) == ["/d", "/e"]

    def test_nested_limits_both_hold(self) -> None:
        root = tree(
            """
            [pipeline.main]
            parallel = true
            max_concurrent = 3
            [pipeline.main.left]
            parallel = true
            max_concurrent = 1
            """
            + execs("a", "b", "c", parent="[pipeline.main.left]")
            + "[pipeline.main.right]\nparallel = true\n"
            + execs("x", "y", "z", parent="[pipeline.main.right]")
        )
        assert ready(root, {}) == ["/left/a", "/right/x", "/right/y"]
        assert ready(root, {"/left/a": R}) == ["/right/x", "/right/y"]
        assert ready(root, {"/left/a": D, "/right/x": R}) == ["/left/b", "/right/y"]


class TestPick:
    def test_slots_cap_what_starts(self) -> None:
        assert pick(PARALLEL, {}, Limits(slots=2)) == ["/a", "/b"]
        assert pick(PARALLEL, {}, Limits(slots=0)) == []
        assert pick(PARALLEL, {}, Limits(slots=9)) == ["/a", "/b", "/c"]

    def test_one_exec_of_a_concurrency_group_at_a_time(self) -> None:
        root = tree(
            """
            [pipeline.main]
            parallel = true
            [pipeline.main.a]
            run = "a"
            concurrency = "db"
            [pipeline.main.b]
            run = "b"
            concurrency = "db"
            [pipeline.main.c]
            run = "c"
            """
        )
        assert pick(root, {}, Limits(slots=9)) == ["/a", "/c"]
        running = {"/a": R, "/c": D}
        assert pick(root, running, Limits(slots=9, busy_groups=frozenset({"db"}))) == []
        assert pick(root, {}, Limits(slots=9, busy_groups=frozenset({"db"}))) == ["/c"]

    def test_a_group_is_inherited(self) -> None:
        root = tree("[pipeline.main]\nparallel = true\nconcurrency = 'db'\n" + execs("a", "b"))
        assert pick(root, {}, Limits(slots=9)) == ["/a"]


class TestSettled:
    def test_done_is_settled(self) -> None:
        assert is_settled(SERIAL, {"/a": D, "/b": D, "/c": D})

    def test_waiting_on_a_reset_is_settled(self) -> None:
        assert is_settled(SERIAL, {"/a": E, "/b": P, "/c": P})

    def test_running_or_ready_is_not(self) -> None:
        assert not is_settled(SERIAL, {"/a": R})
        assert not is_settled(SERIAL, {"/a": Q})
        assert not is_settled(SERIAL, {"/a": D})

    def test_an_all_skipped_tree_is_settled_and_skipped(self) -> None:
        states = {"/a": S, "/b": S, "/c": S}
        assert is_settled(SERIAL, states)
        assert node_states(SERIAL, states)["/"] is S


# --- a property over random trees and states ---------------------------------------

GROUPS = st.sampled_from([None, "db", "deploy"])


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> Node:
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return Node("x", NodeType.EXEC, run="true", params=Params(concurrency=draw(GROUPS)))
    count = draw(st.integers(1, 4))
    children = tuple(
        Node(f"n{i}", c.type, c.run, c.params, c.children)
        for i, c in enumerate(draw(trees(depth + 1)) for _ in range(count))
    )
    params = Params(
        max_concurrent=draw(st.none() | st.integers(1, 3)),
        stop_on_error=draw(st.none() | st.booleans()),
        suppress_errors=draw(st.none() | st.booleans()),
    )
    node_type = draw(st.sampled_from([NodeType.SERIAL, NodeType.PARALLEL]))
    return Node("/", node_type, params=params, children=children)


@st.composite
def situations(draw: st.DrawFn) -> tuple[Node, dict[str, State], Limits]:
    root = draw(trees())
    states = {path: draw(st.sampled_from(list(State))) for path in exec_paths(root)}
    busy = draw(st.frozensets(st.sampled_from(["db", "deploy"])))
    return root, states, Limits(slots=draw(st.integers(0, 5)), busy_groups=busy)


def _below(path: str, parent: str) -> bool:
    return parent == "/" or path == parent or path.startswith(parent + "/")


@settings(deadline=None)  # a loaded CI machine must not turn slowness into failure
@given(situations())
def test_pick_starts_only_pending_execs_within_every_limit(
    situation: tuple[Node, dict[str, State], Limits],
) -> None:
    root, states, limits = situation
    chosen = pick(root, states, limits)
    info = {path: (node, resolved) for path, node, resolved in walk(root)}
    assert len(chosen) <= limits.slots
    assert len(set(chosen)) == len(chosen)
    assert all(info[path][0].is_exec and states[path] is P for path in chosen)
    groups = [info[path][1].concurrency for path in chosen if info[path][1].concurrency]
    assert len(groups) == len(set(groups))
    assert not set(groups) & limits.busy_groups
    active = [path for path, state in states.items() if state in ACTIVE]
    for path, (node, _) in info.items():
        if node.params.max_concurrent is not None:
            started = [p for p in chosen if _below(p, path)]
            running = [p for p in active if _below(p, path)]
            assert not started or len(started) + len(running) <= node.params.max_concurrent
        if node.type is NodeType.SERIAL:
            # No Exec starts in a Serial's child while an earlier child still runs one.
            for index, child in enumerate(node.children):
                child_path = join_path(path, child.name)
                if any(_below(p, child_path) for p in chosen):
                    for earlier in node.children[:index]:
                        earlier_path = join_path(path, earlier.name)
                        assert not any(_below(p, earlier_path) for p in active)
