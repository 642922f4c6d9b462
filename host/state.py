"""The production state machine of a stage run, pure: no storage, no gRPC.

Every change of a run's state goes through `check_transition`, so an illegal request (approving a
run that failed, cancelling one that already finished) is refused with advice instead of corrupting
the avatar's history.
"""

from __future__ import annotations

from enum import Enum

from host.errors import IllegalTransition


class StageState(str, Enum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    WAITING_FOR_USER = "waiting_for_user"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TRANSITIONS: dict[StageState, frozenset[StageState]] = {
    StageState.PENDING: frozenset({StageState.QUEUED, StageState.CANCELLED}),
    # QUEUED -> FAILED: the run could not be dispatched at all (no plugin, attempts exhausted).
    StageState.QUEUED: frozenset({StageState.RUNNING, StageState.CANCELLED, StageState.FAILED}),
    # RUNNING -> QUEUED: the worker died; the run waits for its next attempt.
    StageState.RUNNING: frozenset({StageState.SUCCEEDED, StageState.FAILED, StageState.CANCELLED, StageState.WAITING_FOR_USER, StageState.QUEUED}),
    StageState.WAITING_FOR_USER: frozenset({StageState.QUEUED, StageState.SUCCEEDED, StageState.CANCELLED}),
    # FAILED -> QUEUED: an operator or the person retries.
    StageState.FAILED: frozenset({StageState.QUEUED}),
    StageState.SUCCEEDED: frozenset(),
    StageState.CANCELLED: frozenset(),
}

ACTIVE = frozenset({StageState.PENDING, StageState.QUEUED, StageState.RUNNING})
ACTIVE_VALUES = tuple(sorted(state.value for state in ACTIVE))  # as stored in StageRun.state, for queries
FINISHED = frozenset({StageState.SUCCEEDED, StageState.FAILED, StageState.CANCELLED})

_ADVICE = {
    StageState.SUCCEEDED: "it already succeeded; submit the stage again to make a new run",
    StageState.CANCELLED: "it was cancelled; submit the stage again to make a new run",
    StageState.FAILED: "it failed; retry it (twinforge queue retry) or submit the stage again",
    StageState.QUEUED: "it is waiting in the queue; cancel it or wait for a worker",
    StageState.RUNNING: "it is running; cancel it or wait for it to finish",
    StageState.WAITING_FOR_USER: "it is waiting for the person's choice",
    StageState.PENDING: "it has not been queued yet",
}


def check_transition(stage: str, current: StageState, target: StageState) -> None:
    """Raises IllegalTransition unless `current -> target` is allowed."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(
            stage=stage,
            code="illegal_transition",
            cause=f"a {current.value} run of stage {stage!r} cannot become {target.value}",
            advice=_ADVICE[current],
        )
