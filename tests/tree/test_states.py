"""A parent's state follows from its children's (design doc §5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_bot.tree.states import FINISHED, State, derive_state

P, Q, R, D, E, W, C, S = (
    State.PENDING,
    State.QUEUED,
    State.RUNNING,
    State.DONE,
    State.ERROR,
    State.WORKER_ERROR,
    State.CANCELLED,
    State.SKIPPED,
)


@pytest.mark.parametrize(
    ("children", "parent"),
    [
        # error wins over running over pending over done
        ([D, D, D], D),
        ([D, P], P),
        ([D, P, R], R),
        ([D, P, R, E], E),
        ([E, R], E),
        ([W, R], W),
        ([E, W], E),
        ([Q, P, D], Q),
        ([R, Q], R),
        # skipped nodes do not hold a parent back
        ([S, S], S),
        ([S, D], D),
        ([S, P], P),
        ([S, E], E),
        # cancelled
        ([C, D], C),
        ([C, S], C),
        ([C, P], P),
        ([C, E], E),
        # no children at all
        ([], D),
    ],
)
def test_derive_state(children: list[State], parent: State) -> None:
    assert derive_state(children) is parent


@pytest.mark.parametrize(
    ("children", "parent"),
    [
        ([E, D], D),
        ([W, D], D),
        ([E], D),
        ([E, R], R),
        ([E, P], P),
        ([E, S], D),
        ([D, S], D),
        ([C, E], C),
    ],
)
def test_suppress_errors_counts_a_failure_as_done(children: list[State], parent: State) -> None:
    assert derive_state(children, suppress_errors=True) is parent


def test_derive_state_takes_any_iterable() -> None:
    assert derive_state(iter([D, E])) is E


@given(st.lists(st.sampled_from(State)))
def test_a_failed_child_fails_the_parent_unless_suppressed(children: list[State]) -> None:
    if any(state.is_failure for state in children):
        assert derive_state(children).is_failure
        assert not derive_state(children, suppress_errors=True).is_failure
    else:
        assert derive_state(children) is derive_state(children, suppress_errors=True)


@given(st.lists(st.sampled_from(State), min_size=1))
def test_a_parent_whose_children_all_finished_is_finished(children: list[State]) -> None:
    if all(state.is_finished for state in children):
        assert derive_state(children).is_finished
    if not any(state.is_failure for state in children):
        assert derive_state(children).is_finished == all(s.is_finished for s in children)


def test_an_error_shows_while_a_sibling_still_runs() -> None:
    # "error wins over running": the parent reads error, though not everything below
    # it has finished, so "is the pipeline over?" must look at the Execs, not the root.
    assert derive_state([E, R]) is E


@given(st.lists(st.sampled_from(State), min_size=1))
def test_the_parent_is_in_some_child_state(children: list[State]) -> None:
    assert derive_state(children) in children


@pytest.mark.parametrize("state", list(State))
def test_finished_and_failure(state: State) -> None:
    assert state.is_finished == (state in FINISHED)
    assert state.is_failure == (state in (E, W))
    assert {D, E, W, C, S} == FINISHED
