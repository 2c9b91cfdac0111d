"""The state a tree's nodes are in, derived from its Execs' states, and whether a
pipeline has settled. Pure: the store caches the result of each write with these,
the scheduler picks what to start with them.

A parent's state comes from its children (error wins over running over pending
over done); ``ready`` lists the Execs whose turn has come (Serial order,
``stop_on_error``, ``suppress_errors``, ``max_concurrent``, skips), before any
host-wide limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ci_bot.tree.nodes import Node, NodeType, Resolved, join_path, walk
from ci_bot.tree.states import State, derive_state

ExecStates = Mapping[str, State]
ACTIVE = frozenset({State.QUEUED, State.RUNNING})


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
    states = node_states(tree, exec_states)
    resolved = {path: r for path, _, r in walk(tree)}
    return list(_ready(tree, "/", states, resolved))


def _ready(
    node: Node, path: str, states: Mapping[str, State], resolved: Mapping[str, Resolved]
) -> Iterator[str]:
    if node.is_exec:
        if states[path] is State.PENDING:
            yield path
        return
    candidates = _ready_children(node, path, states, resolved)
    limit = node.params.max_concurrent
    if limit is None:
        yield from candidates
        return
    active = sum(1 for p, s in _exec_states(node, path, states) if s in ACTIVE)
    for index, candidate in enumerate(candidates):
        if index >= limit - active:
            return
        yield candidate


def _ready_children(
    node: Node, path: str, states: Mapping[str, State], resolved: Mapping[str, Resolved]
) -> list[str]:
    found: list[str] = []
    for child in node.children:
        child_path = join_path(path, child.name)
        below = list(_ready(child, child_path, states, resolved))
        if node.type is NodeType.PARALLEL:
            found.extend(below)
            continue
        # A Serial runs one child at a time.  A child that shows error may still
        # have Execs running or to run (a Parallel whose first child failed), so
        # "finished" is judged by what is below it, not by its derived state.
        if below or any(s in ACTIVE for _, s in _exec_states(child, child_path, states)):
            found.extend(below)
            break
        state = states[child_path]
        if state in (State.DONE, State.SKIPPED):
            continue
        if state.is_failure and not resolved[path].stop_on_error:
            continue
        break  # failed with stop_on_error, cancelled, or stuck below: later siblings wait
    return found


def _exec_states(node: Node, path: str, states: Mapping[str, State]) -> Iterator[tuple[str, State]]:
    for sub_path, sub_node, _ in walk(node):
        if sub_node.is_exec:
            full = path if sub_path == "/" else path.rstrip("/") + sub_path
            yield full, states[full]


def is_settled(tree: Node, exec_states: ExecStates) -> bool:
    """Nothing runs and nothing may start: the pipeline has ended (done, or waiting on a reset)."""
    running = any(state in ACTIVE for state in exec_states.values())
    return not running and not ready(tree, exec_states)
