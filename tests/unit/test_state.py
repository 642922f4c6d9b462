"""The stage state machine, over the full matrix of (current, target) pairs."""

from __future__ import annotations

import itertools

import grpc
import pytest

from host.errors import IllegalTransition
from host.state import ACTIVE, FINISHED, TRANSITIONS, StageState, check_transition

S = StageState

LEGAL = {
    (S.PENDING, S.QUEUED),
    (S.PENDING, S.CANCELLED),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.CANCELLED),
    (S.QUEUED, S.FAILED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELLED),
    (S.RUNNING, S.WAITING_FOR_USER),
    (S.RUNNING, S.QUEUED),
    (S.WAITING_FOR_USER, S.QUEUED),
    (S.WAITING_FOR_USER, S.SUCCEEDED),
    (S.WAITING_FOR_USER, S.CANCELLED),
    (S.FAILED, S.QUEUED),
}

MATRIX = list(itertools.product(StageState, StageState))


def _id(pair: tuple[StageState, StageState]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_transition_table_is_the_documented_one():
    """The table itself: a change to it must be a deliberate change to this list too."""
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL
    assert set(TRANSITIONS) == set(StageState)


@pytest.mark.parametrize("pair", sorted(LEGAL), ids=_id)
def test_legal_transition_is_allowed(pair):
    current, target = pair
    assert check_transition("probe", current, target) is None


@pytest.mark.parametrize("pair", [p for p in MATRIX if p not in LEGAL], ids=_id)
def test_illegal_transition_raises_with_advice(pair):
    current, target = pair
    with pytest.raises(IllegalTransition) as info:
        check_transition("probe", current, target)
    error = info.value
    assert error.code == "illegal_transition"
    assert error.stage == "probe"
    assert current.value in error.cause and target.value in error.cause
    assert error.advice.strip(), "every refusal must tell the person what to do next"
    assert error.status == grpc.StatusCode.FAILED_PRECONDITION


def test_finished_states_only_leave_by_retry():
    """Succeeded and cancelled runs are final; a failed one can only be queued again."""
    for state in FINISHED:
        assert TRANSITIONS[state] <= {S.QUEUED}
    assert not TRANSITIONS[S.SUCCEEDED] and not TRANSITIONS[S.CANCELLED]
    assert ACTIVE.isdisjoint(FINISHED)
