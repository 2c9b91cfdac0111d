"""The state a tree's nodes are in, derived from its Execs' states, and whether a
pipeline has settled. Pure: the store caches the result of each write with these,
the scheduler picks what to start with them.

A parent's state comes from its children (error wins over running over pending
over done); ``ready`` lists the Execs whose turn has come (Serial order,
``stop_on_error``, ``suppress_errors``, ``max_concurrent``, skips), before any
host-wide limit.

These run after every change of every pipeline, so what a tree's shape alone
decides (each node's path, resolved parameters and the Execs below it) is
worked out once per tree (``index``) rather than on every call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ci_bot.tree.nodes import Node, NodeType, Resolved, join_path, walk
from ci_bot.tree.states import State, derive_state

ExecStates = Mapping[str, State]
ACTIVE = frozenset({State.QUEUED, State.RUNNING})


@dataclass(frozen=True)
class TreeIndex:
    """What a tree's shape decides, by node path: resolved parameters, each Exec's
    command, and the Execs at or below each node (in tree order)."""

    resolved: Mapping[str, Resolved]
    commands: Mapping[str, str]  # Exec path -> its ``run``
    execs_below: Mapping[str, tuple[str, ...]]

    @property
    def exec_paths(self) -> tuple[str, ...]:
        return self.execs_below["/"]


_INDEX_LIMIT = 256  # trees kept indexed: far more than the pipelines one process drives
_indexes: OrderedDict[int, tuple[Node, TreeIndex]] = OrderedDict()
_indexes_lock = threading.Lock()


def index(tree: Node) -> TreeIndex:
    """The tree's index, made once per tree object (trees are frozen; a changed command
    is a new tree).  The entry holds the tree, so its id is not reused while cached."""
    key = id(tree)
    with _indexes_lock:
        cached = _indexes.get(key)
        if cached is not None and cached[0] is tree:
            _indexes.move_to_end(key)
            return cached[1]
    made = _make_index(tree)
    with _indexes_lock:
        _indexes[key] = (tree, made)
        while len(_indexes) > _INDEX_LIMIT:
            _indexes.popitem(last=False)
    return made


def _make_index(tree: Node) -> TreeIndex:
    resolved: dict[str, Resolved] = {}
    commands: dict[str, str] = {}
    below: dict[str, list[str]] = {}
    for path, node, params in walk(tree):
        resolved[path] = params
        below[path] = []
        if node.is_exec:
            commands[path] = node.run or ""
            # every ancestor (and the Exec itself) has it below; walk is in tree order
            below[path].append(path)
            parent = path
            while parent != "/":
                parent = parent.rsplit("/", 1)[0] or "/"
                below[parent].append(path)
    return TreeIndex(resolved, commands, {path: tuple(found) for path, found in below.items()})


def node_states(tree: Node, exec_states: ExecStates) -> dict[str, State]:
    """Every node's state: Execs as stored, parents derived from their children."""
    states: dict[str, State] = {}
    _derive(tree, "/", exec_states, states, stop_on_error=True)
    return states


def _derive(
    node: Node, path: str, exec_states: ExecStates, out: dict[str, State], *, stop_on_error: bool
) -> tuple[State, bool]:
    """The node's state, and whether any Exec below it is queued or running."""
    if node.is_exec:
        state = exec_states.get(path, State.PENDING)
        out[path] = state
        return state, state in ACTIVE
    stop = stop_on_error if node.params.stop_on_error is None else node.params.stop_on_error
    suppress = bool(node.params.suppress_errors)
    counted: list[State] = []
    active = blocked = False
    for child in node.children:
        child_state, child_active = _derive(
            child, join_path(path, child.name), exec_states, out, stop_on_error=stop
        )
        active |= child_active
        if blocked:
            continue  # behind a failure in a Serial: it waits for a reset, it does not count
        if suppress and child_state.is_failure and child_active:
            child_state = State.RUNNING  # a suppressed failure must not hide work still running
        counted.append(child_state)
        if node.type is NodeType.SERIAL and stop and child_state.is_failure and not child_active:
            blocked = True
    state = derive_state(counted, suppress_errors=suppress)
    out[path] = state
    return state, active


def ready(tree: Node, exec_states: ExecStates) -> list[str]:
    """Execs whose turn has come, in tree order, before host-wide limits."""
    return ready_of(tree, node_states(tree, exec_states))


def ready_of(tree: Node, states: Mapping[str, State]) -> list[str]:
    """``ready`` from every node's state (``node_states``) already derived."""
    return list(_ready(tree, "/", states, index(tree)))


def _ready(node: Node, path: str, states: Mapping[str, State], tree: TreeIndex) -> Iterator[str]:
    if node.is_exec:
        if states[path] is State.PENDING:
            yield path
        return
    candidates = _ready_children(node, path, states, tree)
    limit = node.params.max_concurrent
    if limit is None:
        yield from candidates
        return
    active = sum(1 for p in tree.execs_below[path] if states[p] in ACTIVE)
    for index_, candidate in enumerate(candidates):
        if index_ >= limit - active:
            return
        yield candidate


def _ready_children(
    node: Node, path: str, states: Mapping[str, State], tree: TreeIndex
) -> list[str]:
    found: list[str] = []
    for child in node.children:
        child_path = join_path(path, child.name)
        below = list(_ready(child, child_path, states, tree))
        if node.type is NodeType.PARALLEL:
            found.extend(below)
            continue
        # A Serial runs one child at a time.  A child that shows error may still
        # have Execs running or to run (a Parallel whose first child failed), so
        # "finished" is judged by what is below it, not by its derived state.
        if below or any(states[p] in ACTIVE for p in tree.execs_below[child_path]):
            found.extend(below)
            break
        state = states[child_path]
        if state in (State.DONE, State.SKIPPED):
            continue
        if state.is_failure and not tree.resolved[path].stop_on_error:
            continue
        break  # failed with stop_on_error, cancelled, or stuck below: later siblings wait
    return found


def is_settled(tree: Node, exec_states: ExecStates) -> bool:
    """Nothing runs and nothing may start: the pipeline has ended (done, or waiting on a reset)."""
    running = any(state in ACTIVE for state in exec_states.values())
    return not running and not ready(tree, exec_states)


def root_and_settled(tree: Node, exec_states: ExecStates) -> tuple[State, bool]:
    """The root's state and ``is_settled``, from one derivation (what a write caches)."""
    states = node_states(tree, exec_states)
    running = any(state in ACTIVE for state in exec_states.values())
    return states["/"], not running and not ready_of(tree, states)
