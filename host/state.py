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


S = StageState

TRANSITIONS: dict[StageState, frozenset[StageState]] = {
    S.PENDING: frozenset({S.QUEUED, S.CANCELLED}),
    # QUEUED -> FAILED: the run could not be dispatched at all (no plugin, attempts exhausted).
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED, S.FAILED}),
    # RUNNING -> QUEUED: the worker died; the run waits for its next attempt.
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.WAITING_FOR_USER, S.QUEUED}),
    S.WAITING_FOR_USER: frozenset({S.QUEUED, S.SUCCEEDED, S.CANCELLED}),
    # FAILED -> QUEUED: an operator or the person retries.
    S.FAILED: frozenset({S.QUEUED}),
    S.SUCCEEDED: frozenset(),
    S.CANCELLED: frozenset(),
}

ACTIVE = frozenset({S.PENDING, S.QUEUED, S.RUNNING})
ACTIVE_VALUES = tuple(sorted(state.value for state in ACTIVE))  # as stored in StageRun.state, for queries
FINISHED = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED})

_ADVICE = {
    S.SUCCEEDED: "it already succeeded; submit the stage again to make a new run",
    S.CANCELLED: "it was cancelled; submit the stage again to make a new run",
    S.FAILED: "it failed; retry it (twinforge queue retry) or submit the stage again",
    S.QUEUED: "it is waiting in the queue; cancel it or wait for a worker",
    S.RUNNING: "it is running; cancel it or wait for it to finish",
    S.WAITING_FOR_USER: "it is waiting for the person's choice",
    S.PENDING: "it has not been queued yet",
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
