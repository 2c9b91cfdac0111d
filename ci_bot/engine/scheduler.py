"""Pure decisions over a tree and its Execs' states: what may start now.

Nothing here touches the store, Docker or the clock.  The states themselves are
derived in ``ci_bot/tree/derive.py``.  The runner asks ``pick`` after every
change; the answer honours Serial order, ``stop_on_error``, ``suppress_errors``,
Parallel, ``max_concurrent``, skips, the host's free slots and the bot-wide
``concurrency`` groups.
"""

from __future__ import annotations

from dataclasses import dataclass

# The state derivation is the tree core's; it is named here too for the engine's callers.
from ci_bot.tree.derive import ACTIVE, ExecStates, index, is_settled, node_states, ready
from ci_bot.tree.nodes import Node

__all__ = ["ACTIVE", "ExecStates", "Limits", "is_settled", "node_states", "pick", "ready"]


@dataclass(frozen=True)
class Limits:
    slots: int  # Execs this host may still start
    busy_groups: frozenset[str] = frozenset()  # concurrency groups already running somewhere


def pick(tree: Node, exec_states: ExecStates, limits: Limits) -> list[str]:
    """The Execs to start now: ready ones within the free slots and free groups."""
    resolved = index(tree).resolved
    busy = set(limits.busy_groups)
    chosen: list[str] = []
    for path in ready(tree, exec_states):
        if len(chosen) >= limits.slots:
            break
        group = resolved[path].concurrency
        if group is not None:
            if group in busy:
                continue
            busy.add(group)
        chosen.append(path)
    return chosen
