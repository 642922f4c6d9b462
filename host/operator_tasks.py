"""Operator tasks (issue 24): what becomes of a rejection for "other".

The other reasons for a rejection each have an adjustment (host/approval.py); free words have
none the host could apply by itself, so a rejection for "other" opens a task (`models.OperatorTask`,
written by `approval.reject` in the rejection's own transaction) and retrains nothing. An operator
lists the tasks (`twinforge tasks ls`) and answers one (`twinforge tasks answer`) with words for the
person and one of two outcomes, so that the person is never left without a way on:

- retrain: the adjustment of lips_off, blurry_mouth or jitter is applied, as if the person had
  chosen that reason; a new round comes to them when it is measured;
- reopen: the round is given back (its verdict cleared), to approve as it is or reject with
  another reason, when the words ask for nothing a retrain can give.

A round that is no longer the newest (the person sent a new video meanwhile) can only be answered
in words. The answer is an `operator_answered` notification on the round's evaluation run, which
the bot and the web app tell the person in their language.
"""

from __future__ import annotations

from typing import Any

from host import approval, auth, use_cases
from host.errors import IllegalTransition, InvalidArgument, NotFound
from host.flow import Flow
from host.storage import models
from host.storage.models import utcnow
from host.unit_of_work import UnitOfWork

STAGE = "operator_task"
ANSWERED = "operator_answered"
# the reasons whose adjustment retrains: the outcomes an operator may choose besides giving the round back
RETRAIN_REASONS = tuple(reason for reason, adjustment in approval.ADJUSTMENTS.items() if adjustment.retrain_from is not None)
MOST_ANSWER_CHARS = 2000


def tasks(include_answered: bool = False) -> list[dict[str, Any]]:
    """The tasks the caller may see, oldest first: every one for an operator, their own otherwise;
    those that wait, or all with `include_answered`."""
    query = _query().order_by(models.OperatorTask.created_at, models.OperatorTask.id)
    if not include_answered:
        query = query.where(models.OperatorTask.answered_at.is_null())
    caller = auth.current()
    if not caller.operator:
        query = query.where(models.User.external_id == caller.external_id)
    return [_as_dict(row) for row in query]


def answer(uow: UnitOfWork, task_id: str, by: str, words: str, retrain_reason: str, flow: Flow,
           known_stages: set[str]) -> tuple[dict[str, Any], list[models.StageRun]]:
    """Answers the task: the outcome (retrain, reopen or words only), the runs a retrain submitted
    (the caller enqueues them after the commit), and the notification that tells the person."""
    words = words.strip()
    if not words:
        raise InvalidArgument(stage=STAGE, code="no_answer", cause="an answer needs words for the person",
                              advice="say what you found and what happens next, e.g. --text 'the light was low; I retrained the mouth'")
    if len(words) > MOST_ANSWER_CHARS:
        raise InvalidArgument(stage=STAGE, code="answer_too_long", cause=f"the answer has {len(words)} characters, more than {MOST_ANSWER_CHARS}",
                              advice="say it in fewer words: the person reads it in a chat message")
    if retrain_reason and retrain_reason not in RETRAIN_REASONS:
        raise InvalidArgument(stage=STAGE, code="unknown_reason", cause=f"{retrain_reason!r} is not an adjustment that retrains",
                              advice=f"use one of {', '.join(RETRAIN_REASONS)}, or none to give the round back to the person")
    task = models.OperatorTask.get_or_none(models.OperatorTask.id == task_id)
    if task is None:
        raise NotFound(stage=STAGE, code="unknown_task", cause=f"there is no operator task {task_id!r}",
                       advice="list the tasks that wait (twinforge tasks ls) and use one of their ids")
    use_cases.locked_avatar(task.avatar_id)  # one answer at a time, and no round opened meanwhile
    task = models.OperatorTask.get_by_id(task_id)
    if task.answered_at is not None:
        raise IllegalTransition(stage=STAGE, code="already_answered", cause=f"task {task_id} was answered by {task.answered_by} already",
                                advice="see the answer (twinforge tasks ls --all)")
    judged = task.round
    newest = models.Round.select().where(models.Round.avatar == task.avatar_id).order_by(models.Round.number.desc()).first()
    current = newest.id == judged.id and judged.verdict == "rejected"
    started: list[models.StageRun] = []
    generation = None
    if retrain_reason:
        if not current:
            raise IllegalTransition(stage=STAGE, code="newer_round",
                                    cause=f"round {judged.number} of avatar {task.avatar_id} is no longer the newest: it was trained or measured again since",
                                    advice="answer in words only (leave --retrain out)")
        adjustment = approval.ADJUSTMENTS[retrain_reason]
        started = approval.retrain_with(uow, task.avatar_id, adjustment, f"other: {task.text} (operator: {retrain_reason})", flow, known_stages)
        generation = use_cases.run_generation(started[0]) if started else None
        models.Round.update(adjustment=adjustment.words, retrain_generation=generation).where(models.Round.id == judged.id).execute()
        outcome = "retrain"
    elif current:
        models.Round.update(verdict=None, verdict_by="", verdict_reason="", verdict_text="", adjustment="", retrain_generation=None,
                            decided_at=None).where(models.Round.id == judged.id).execute()
        outcome = "reopen"
    else:
        outcome = "answer"
    models.OperatorTask.update(outcome=outcome, answer=words, answered_by=by, answered_at=utcnow(), retrain_reason=retrain_reason,
                               retrain_generation=generation).where(models.OperatorTask.id == task_id).execute()
    uow.notify(task.avatar_id, ANSWERED, {
        "task": task_id, "text": task.text, "answer": words, "by": by, "outcome": outcome, "reason": retrain_reason,
        "retrain_generation": generation, "round": judged.number, "passed": judged.passed,
    }, run_id=judged.evaluation_run_id, stage=approval.EVALUATION_STAGE)
    return _as_dict(_query().where(models.OperatorTask.id == task_id).get()), started


def _query():
    """Tasks with their round, avatar and owner, read in one query."""
    return (models.OperatorTask.select(models.OperatorTask, models.Round, models.Avatar, models.User)
            .join(models.Round).switch(models.OperatorTask).join(models.Avatar).join(models.User))


def _as_dict(row: models.OperatorTask) -> dict[str, Any]:
    return {
        "task_id": row.id, "avatar_id": row.avatar.id, "avatar_name": row.avatar.name, "owner": row.avatar.owner.external_id,
        "round": row.round.number, "evaluation_run": row.round.evaluation_run_id, "text": row.text, "asked_by": row.asked_by,
        "created_at": row.created_at, "outcome": row.outcome, "answer": row.answer, "answered_by": row.answered_by,
        "answered_at": row.answered_at, "retrain_reason": row.retrain_reason, "retrain_generation": row.retrain_generation,
    }
