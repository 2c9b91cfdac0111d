"""Node states and how a parent's state follows from its children's.

A parent's state is never stored: it is derived, so it can never disagree with
the Execs below it.  Buildbot's ``worst_status`` is the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    WORKER_ERROR = "worker_error"  # the infrastructure failed: image missing, daemon gone, killed
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED

    @property
    def is_failure(self) -> bool:
        return self in (State.ERROR, State.WORKER_ERROR)


FINISHED = frozenset({State.DONE, State.ERROR, State.WORKER_ERROR, State.CANCELLED, State.SKIPPED})

# Worst first: the first state any child is in is the parent's.
_PRECEDENCE = (
    State.ERROR,
    State.WORKER_ERROR,
    State.RUNNING,
    State.QUEUED,
    State.PENDING,
    State.CANCELLED,
    State.DONE,
    State.SKIPPED,
)


def derive_state(children: Iterable[State], *, suppress_errors: bool = False) -> State:
    """A parent's state: error wins over running over pending over done.

    With ``suppress_errors`` a failed child counts as done, so the parent ends
    done once nothing below it is still to run.  A parent whose children were
    all skipped is skipped; one with no children at all is done.
    """
    present = set(children)
    if suppress_errors and present & {State.ERROR, State.WORKER_ERROR}:
        present = (present - {State.ERROR, State.WORKER_ERROR}) | {State.DONE}
    for state in _PRECEDENCE:
        if state in present:
            return state
    return State.DONE
