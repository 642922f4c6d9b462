"""Accepting, rejecting and retraining sub-models (issue #7): a person or an operator judges each
trained sub-model, and retraining from an accepted one reruns only what depends on it.

A verdict is written on the judged run (`StageRun.verdict`, with a rejection's reason and when):
the newest verdict of a run counts, and the host reads it from there. Each verdict is also a
notification on the run (`submodel_accepted`, `submodel_rejected`), which keeps the history and
tells the person. A retrain is a new generation of the same submission: it records its plan (the
stages it reruns with their parameters, and the runs that stand in for every stage it keeps) in
the `retrain_plan` table (`use_cases.record_retrain_plan`) and tells the person with a
`retrain_started` notification, submits the first of the rerun stages with the accepted runs'
outputs as inputs, and `use_cases.start_next_stages` follows the plan for the rest.
"""

from __future__ import annotations

import json
from typing import Any

from host import use_cases
from host.artifacts import refs_from_json
from host.errors import AlreadyExists, IllegalTransition, InvalidArgument, NotFound
from host.flow import Flow
from host.state import ACTIVE, StageState
from host.storage import models
from host.storage.models import utcnow
from host.unit_of_work import UnitOfWork

ACCEPTED = "submodel_accepted"
REJECTED = "submodel_rejected"


def _known(flow: Flow, submodel: str) -> None:
    if submodel not in flow.needs:
        raise NotFound(
            stage=submodel,
            code="unknown_submodel",
            cause=f"{submodel!r} is not a stage of the flow",
            advice=f"use one of {', '.join(flow.needs)}",
        )


def verdict(run_id: str) -> str | None:
    """`accepted`, `rejected`, or None for a run nobody judged yet."""
    return models.StageRun.select(models.StageRun.verdict).where(models.StageRun.id == run_id).scalar()


def _judge(run: models.StageRun, judged: str, reason: str | None) -> None:
    """Writes the run's verdict. A later verdict replaces an earlier one (a person may change their
    mind, and a rejection's retrain rejects what was accepted), so two at once need no refusal:
    the one committed last counts, as its notification is the newest."""
    run.verdict, run.verdict_reason, run.verdict_at = judged, reason, utcnow()
    run.save(only=[models.StageRun.verdict, models.StageRun.verdict_reason, models.StageRun.verdict_at])


def _judged_run(avatar_id: str, submodel: str, flow: Flow) -> models.StageRun:
    use_cases.get_avatar(avatar_id)
    _known(flow, submodel)
    version = use_cases.latest_submission_version(avatar_id)
    runs = use_cases.succeeded_runs(avatar_id, submodel, version)
    if not runs:
        raise NotFound(
            stage=submodel,
            code="no_trained_submodel",
            cause=f"{submodel} has no finished run for version {version} of avatar {avatar_id}",
            advice=f"wait for {submodel} to finish training (twinforge watch {avatar_id})",
        )
    return runs[0]


def accept(uow: UnitOfWork, avatar_id: str, submodel: str, flow: Flow) -> models.StageRun:
    """Accepts the newest finished run of the sub-model for the avatar's latest video."""
    run = _judged_run(avatar_id, submodel, flow)
    _judge(run, "accepted", None)
    uow.notify(avatar_id, ACCEPTED, {"generation": use_cases.run_generation(run)}, run_id=run.id, stage=submodel)
    return run


def reject(uow: UnitOfWork, avatar_id: str, submodel: str, reason: str, flow: Flow) -> models.StageRun:
    """Rejects the newest finished run of the sub-model; the reason stays in its history."""
    if not reason.strip():
        raise InvalidArgument(
            stage=submodel, code="no_reason", cause="a rejection needs a reason",
            advice="say what is wrong, e.g. --reason 'the mouth is blurred'",
        )
    run = _judged_run(avatar_id, submodel, flow)
    payload = {"generation": use_cases.run_generation(run), "reason": reason.strip()}
    _judge(run, "rejected", payload["reason"])
    uow.notify(avatar_id, REJECTED, payload, run_id=run.id, stage=submodel)
    return run


def _stand_in(avatar_id: str, stage: str, version: int, submodel: str) -> models.StageRun:
    """The run whose outputs a retrain reuses for a stage it keeps: the newest accepted one, else
    the newest one nobody rejected."""
    runs = use_cases.succeeded_runs(avatar_id, stage, version)
    chosen = next((r for r in runs if r.verdict == "accepted"), None)
    if chosen is None:
        chosen = next((r for r in runs if r.verdict is None), None)
    if chosen is None:
        why = "every finished run of it was rejected" if runs else "it has no finished run"
        raise IllegalTransition(
            stage=stage,
            code="nothing_to_reuse",
            cause=f"retraining from {submodel} reuses {stage}, and {why}",
            advice=f"accept a run of {stage} (twinforge model accept {avatar_id} {stage}) or retrain from it",
        )
    return chosen


def retrain(
    uow: UnitOfWork, avatar_id: str, submodel: str, flow: Flow, known_stages: set[str],
    overrides: dict[str, dict[str, Any]] | None = None,
) -> list[models.StageRun]:
    """Starts a new generation that reruns every stage downstream of the accepted sub-model and
    nothing else; returns the runs submitted now (the caller enqueues them after the commit).
    `overrides` replaces parameters of rerun stages (a rejection's adjustment, host/approval.py)."""
    use_cases.locked_avatar(avatar_id)
    _known(flow, submodel)
    version = use_cases.latest_submission_version(avatar_id)
    accepted = next((r for r in use_cases.succeeded_runs(avatar_id, submodel, version) if r.verdict == "accepted"), None)
    if accepted is None:
        raise IllegalTransition(
            stage=submodel,
            code="not_accepted",
            cause=f"{submodel} of avatar {avatar_id} has no accepted run to retrain from",
            advice=f"review it and accept it first: twinforge model accept {avatar_id} {submodel}",
        )
    rerun = flow.downstream(submodel)
    if not rerun:
        raise InvalidArgument(
            stage=submodel,
            code="nothing_downstream",
            cause=f"no stage depends on {submodel}, so retraining from it has nothing to rerun",
            advice="retrain from a sub-model that others depend on, or submit this one again",
        )
    active = [r for r in _version_runs(avatar_id, version) if r.stage in rerun and StageState(r.state) in ACTIVE]
    if active:
        raise AlreadyExists(
            stage=active[0].stage,
            code="stage_busy",
            cause=f"{active[0].stage} of this avatar is still {active[0].state} (run {active[0].id}), and the retrain would rerun it",
            advice=f"wait for it to finish, or cancel it (twinforge queue cancel {active[0].id}), then retrain",
        )
    kept = [need for stage in rerun for need in flow.needs[stage] if need not in rerun]
    base_runs = {stage: (accepted if stage == submodel else _stand_in(avatar_id, stage, version, submodel)).id for stage in dict.fromkeys(kept)}
    generation = 1 + max((use_cases.run_generation(r) for r in _version_runs(avatar_id, version)), default=0)
    plan: dict[str, Any] = {
        "submission_version": version,
        "generation": generation,
        "from": submodel,
        "from_run": accepted.id,
        "rerun": rerun,
        "base_runs": base_runs,
        "parameters": {
            stage: {**_last_parameters(avatar_id, stage, version), **(overrides or {}).get(stage, {}), "generation": generation}
            for stage in rerun
        },
    }
    use_cases.record_retrain_plan(avatar_id, plan)
    uow.notify(avatar_id, use_cases.RETRAIN_STARTED, plan, stage=submodel)
    started = []
    for stage in rerun:
        if not all(need in base_runs for need in flow.needs[stage]):
            continue
        inputs = [use_cases.submission_video(avatar_id, version)]
        for need in flow.needs[stage]:
            inputs.extend(refs_from_json(models.StageRun.get_by_id(base_runs[need]).outputs_json))
        started.append(use_cases.submit_stage(uow, avatar_id, stage, inputs, plan["parameters"][stage], known_stages, version))
    return started


def _version_runs(avatar_id: str, version: int) -> list[models.StageRun]:
    return list(
        models.StageRun.select().where((models.StageRun.avatar == avatar_id) & (models.StageRun.submission_version == version))
    )


def _last_parameters(avatar_id: str, stage: str, version: int) -> dict[str, Any]:
    """The parameters the stage last ran with (its preset, its seed), so a rerun differs only by
    what it trains on."""
    runs = sorted((r for r in _version_runs(avatar_id, version) if r.stage == stage), key=lambda r: r.created_at)
    if not runs:
        return {}
    parameters = json.loads(runs[-1].parameters_json or "{}")
    parameters.pop("generation", None)
    return parameters
