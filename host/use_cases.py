"""The use cases of the host, as plain functions over a unit of work.

Servicer RPCs, queue workers and the host's reactor all change state only through these functions,
so every change is checked against the state machine and leaves a notification in the same commit.
"""

from __future__ import annotations

import json
from typing import Any

import peewee

from host import registry
from host.artifacts import error_from_json, error_to_json, refs_from_json, refs_to_json
from host.errors import AlreadyExists, IllegalTransition, InvalidArgument, NotFound
from host.flow import Flow
from host.state import ACTIVE_VALUES, StageState, check_transition
from host.storage import models
from host.storage.models import utcnow
from host.unit_of_work import UnitOfWork
from host.presets import PRESETS_ORDER
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

SUBMISSION_VIDEO_KIND = "video"
SUBMISSION_CREATED = "submission_created"
PRESETS = ("", *PRESETS_ORDER)


def unknown_avatar(avatar_id: str) -> NotFound:
    """Also the answer for another person's avatar (host/auth.py), so ids cannot be probed."""
    return NotFound(
        code="unknown_avatar",
        cause=f"there is no avatar {avatar_id!r}",
        advice="list your avatars (twinforge avatars ls, or /avatars in the bot) and use one of their ids",
    )


def get_avatar(avatar_id: str) -> models.Avatar:
    avatar = models.Avatar.get_or_none(models.Avatar.id == avatar_id)
    if avatar is None:
        raise unknown_avatar(avatar_id)
    return avatar


def locked_avatar(avatar_id: str) -> models.Avatar:
    if isinstance(models.Avatar._meta.database.obj, peewee.SqliteDatabase):
        return get_avatar(avatar_id)
    avatar = models.Avatar.select().where(models.Avatar.id == avatar_id).for_update().first()
    return avatar if avatar is not None else get_avatar(avatar_id)


def _owned_artifact(avatar_id: str, key: str) -> bool:
    return models.Artifact.select().where((models.Artifact.key == key) & (models.Artifact.avatar == avatar_id)).exists()


def unknown_run(run_id: str) -> NotFound:
    return NotFound(code="unknown_run", cause=f"there is no stage run {run_id!r}", advice="list the avatar's stage runs and use one of their ids")


def get_run(run_id: str) -> models.StageRun:
    run = models.StageRun.get_or_none(models.StageRun.id == run_id)
    if run is None:
        raise unknown_run(run_id)
    return run


def ensure_user(external_id: str) -> models.User:
    if not external_id or len(external_id) > 128:
        raise InvalidArgument(
            code="bad_owner",
            cause="an avatar needs an owner identity of 1 to 128 characters",
            advice="pass the owner as e.g. 'telegram:12345' or 'cli:alice'",
        )
    user, _ = models.User.get_or_create(external_id=external_id, defaults={"id": models.new_id()})
    return user


def create_avatar(uow: UnitOfWork, owner: str, name: str) -> models.Avatar:
    name = name.strip()
    if not name or len(name) > 128:
        raise InvalidArgument(
            code="bad_name",
            cause="an avatar's name must be 1 to 128 characters",
            advice="choose a short name such as 'Anna, office'",
        )
    avatar = models.Avatar.create(id=models.new_id(), owner=ensure_user(owner), name=name)
    uow.notify(avatar.id, "avatar_created", {"name": name, "owner": owner})
    return avatar


def create_submission(
    uow: UnitOfWork, avatar_id: str, video: plugin_pb.ArtifactRef, flow: Flow, known_stages: set[str], preset: str = ""
) -> tuple[models.Submission, list[models.StageRun]]:
    """Records the video as the avatar's next version and submits the flow's first stages on it.
    The preset, kept in the submission's row, reaches every stage of its flow that takes one
    (`flow_parameters`); the notification repeats it only for the person's history."""
    if preset not in PRESETS:
        raise InvalidArgument(stage="intake", code="unknown_preset", cause=f"{preset!r} is not a preset",
                              advice=f"use {', '.join(PRESETS_ORDER)}, or leave it empty for each stage's default")
    avatar = get_avatar(avatar_id)
    artifact = models.Artifact.get_or_none(models.Artifact.key == video.key)
    if artifact is None or artifact.avatar_id != avatar.id:
        raise NotFound(
            stage="intake",
            code="unknown_video",
            cause=f"no uploaded video {video.key!r} belongs to avatar {avatar_id}",
            advice="upload the video first (UploadArtifact) and pass the reference it returned",
        )
    last = (
        models.Submission.select(peewee.fn.MAX(models.Submission.version))
        .where(models.Submission.avatar == avatar.id)
        .scalar()
    )
    submission = models.Submission.create(
        avatar=avatar.id,
        version=(last or 0) + 1,
        video_key=artifact.key,
        video_sha256=artifact.sha256,
        video_size=artifact.size,
        filename=json.loads(artifact.metadata_json).get("filename", ""),
        preset=preset,
    )
    uow.notify(avatar.id, SUBMISSION_CREATED, {"version": submission.version, "video": artifact.key, "preset": preset})
    ref = artifact_ref(artifact)
    runs = [
        submit_stage(uow, avatar.id, stage, [ref], flow_parameters(avatar.id, submission.version, stage), known_stages, submission.version)
        for stage in flow.roots()
    ]
    return submission, runs


def flow_parameters(avatar_id: str, version: int, stage: str) -> dict[str, Any]:
    """The parameters the flow gives a stage of a submission: its preset, where the stage takes one
    (a stage that does not declare it must not get it: its schema may forbid other properties)."""
    preset = submission_preset(avatar_id, version)
    return {"preset": preset} if preset and registry.takes_parameter(stage, "preset") else {}


def submission_preset(avatar_id: str, version: int) -> str:
    """The preset a submission was made with, "" for none (each stage picks its own default) or
    for a version the avatar does not have: a stage submitted by hand may name any version."""
    preset = (
        models.Submission.select(models.Submission.preset)
        .where((models.Submission.avatar == avatar_id) & (models.Submission.version == version))
        .scalar()
    )
    return preset or ""


def artifact_ref(artifact: models.Artifact) -> plugin_pb.ArtifactRef:
    return plugin_pb.ArtifactRef(
        key=artifact.key,
        kind=artifact.kind,
        sha256=artifact.sha256,
        size=artifact.size,
        name=artifact.name,
        metadata_json=artifact.metadata_json,
    )


def submission_video(avatar_id: str, version: int) -> plugin_pb.ArtifactRef:
    submission = models.Submission.get(
        (models.Submission.avatar == avatar_id) & (models.Submission.version == version)
    )
    return artifact_ref(models.Artifact.get_by_id(submission.video_key))


def latest_submission_version(avatar_id: str) -> int:
    return (
        models.Submission.select(peewee.fn.MAX(models.Submission.version))
        .where(models.Submission.avatar == avatar_id)
        .scalar()
        or 0
    )


def submit_stage(
    uow: UnitOfWork,
    avatar_id: str,
    stage: str,
    inputs: list[plugin_pb.ArtifactRef],
    parameters: dict[str, Any],
    known_stages: set[str],
    submission_version: int | None = None,
) -> models.StageRun:
    """Creates a run and queues it; the caller enqueues the job after the commit.

    The avatar row is locked (on PostgreSQL) so two concurrent submissions of the same stage cannot
    both pass the busy check."""
    avatar = locked_avatar(avatar_id)
    foreign = [ref.key for ref in inputs if not _owned_artifact(avatar.id, ref.key)]
    if foreign:
        raise NotFound(
            stage=stage,
            code="unknown_input",
            cause=f"inputs {', '.join(foreign)} are not artifacts of avatar {avatar.id}",
            advice="pass artifact references returned by UploadArtifact or by this avatar's stage runs",
        )
    if stage not in known_stages:
        served = ", ".join(sorted(known_stages)) or "none yet"
        raise NotFound(
            stage=stage,
            code="unknown_stage",
            cause=f"no registered plugin serves stage {stage!r} (stages served: {served})",
            advice=f"use one of the stages served ({served}), or start a plugin that serves {stage!r} and let it register",
        )
    busy = (
        models.StageRun.select()
        .where(
            (models.StageRun.avatar == avatar.id)
            & (models.StageRun.stage == stage)
            & (models.StageRun.state.in_(ACTIVE_VALUES))
        )
        .first()
    )
    if busy is not None:
        raise AlreadyExists(
            stage=stage,
            code="stage_busy",
            cause=f"stage {stage!r} of this avatar is already {busy.state} as run {busy.id}",
            advice="wait for it to finish or cancel it first",
        )
    run = models.StageRun.create(
        id=models.new_id(),
        avatar=avatar.id,
        stage=stage,
        state=StageState.PENDING.value,
        submission_version=latest_submission_version(avatar.id) if submission_version is None else submission_version,
        parameters_json=json.dumps(parameters, sort_keys=True),
        inputs_json=refs_to_json(inputs),
    )
    return transition(uow, run, StageState.QUEUED, {"inputs": [r.key for r in inputs]})


def transition(
    uow: UnitOfWork, run: models.StageRun, target: StageState, payload: dict[str, Any] | None = None, **fields: Any
) -> models.StageRun:
    """Moves a run to `target` if the state machine allows it, with a notification in the same commit."""
    check_transition(run.stage, StageState(run.state), target)
    run.state = target.value
    run.updated_at = utcnow()
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()
    uow.notify(run.avatar_id, f"stage_{target.value}", payload or {}, run_id=run.id, stage=run.stage)
    return run


def locked_run(run_id: str) -> models.StageRun:
    """Reads a run for update: on PostgreSQL the row stays locked until commit."""
    query = models.StageRun.select().where(models.StageRun.id == run_id)
    if not isinstance(models.StageRun._meta.database.obj, peewee.SqliteDatabase):
        query = query.for_update()
    run = query.first()
    if run is None:
        get_run(run_id)
    return run


def still_running(run_id: str, attempt: int) -> bool:
    """Whether attempt `attempt` is still the run's live one, with the row locked until commit. A
    worker cut off from the database and the queue (its network link down) loses its run to another
    worker once its lease expires; if its link comes back, it must record nothing more of its
    attempt, or its events would mix with the new attempt's and its result could end that one."""
    run = locked_run(run_id)
    return run.state == StageState.RUNNING.value and run.attempt == attempt


def cancel_run(uow: UnitOfWork, run_id: str, reason: str) -> models.StageRun:
    """A queued run is cancelled at once; a running one is asked to stop, and its worker confirms."""
    run = locked_run(run_id)
    state = StageState(run.state)
    if state == StageState.RUNNING:
        if not run.cancel_requested:
            run.cancel_requested = True
            run.updated_at = utcnow()
            run.save()
            uow.notify(run.avatar_id, "stage_cancel_requested", {"reason": reason}, run_id=run.id, stage=run.stage)
        return run
    return transition(uow, run, StageState.CANCELLED, {"reason": reason})


def start_run(uow: UnitOfWork, run_id: str) -> models.StageRun:
    run = locked_run(run_id)
    return transition(uow, run, StageState.RUNNING, {"attempt": run.attempt + 1}, attempt=run.attempt + 1)


def record_progress(uow: UnitOfWork, run: models.StageRun, progress: plugin_pb.Progress) -> None:
    run.progress = max(0.0, min(1.0, progress.fraction))
    run.progress_message = progress.message
    run.updated_at = utcnow()
    run.save(only=[models.StageRun.progress, models.StageRun.progress_message, models.StageRun.updated_at])
    payload = {"fraction": run.progress, "message": progress.message}
    if progress.eta_seconds >= 0:
        payload["eta_seconds"] = progress.eta_seconds
    uow.notify(run.avatar_id, "stage_progress", payload, run_id=run.id, stage=run.stage)


def record_artifact(uow: UnitOfWork, run: models.StageRun, ref: plugin_pb.ArtifactRef) -> None:
    """Records a produced blob once: a retried attempt that re-saves the same key updates it."""
    models.Artifact.insert(
        key=ref.key,
        avatar=run.avatar_id,
        run=run.id,
        kind=ref.kind,
        name=ref.name,
        sha256=ref.sha256,
        size=ref.size,
        metadata_json=ref.metadata_json or "{}",
    ).on_conflict(
        conflict_target=[models.Artifact.key],
        update={
            models.Artifact.sha256: ref.sha256,
            models.Artifact.size: ref.size,
            models.Artifact.metadata_json: ref.metadata_json or "{}",
        },
    ).execute()
    if ref.kind == "checkpoint":
        run.checkpoint_json = refs_to_json([ref])
        run.save(only=[models.StageRun.checkpoint_json])
    uow.notify(
        run.avatar_id,
        "stage_artifact",
        {"key": ref.key, "kind": ref.kind, "name": ref.name, "size": ref.size},
        run_id=run.id,
        stage=run.stage,
    )


def record_metric(uow: UnitOfWork, run: models.StageRun, metric: plugin_pb.Metric) -> None:
    uow.notify(
        run.avatar_id,
        "stage_metric",
        {"name": metric.name, "value": metric.value, "step": metric.step},
        run_id=run.id,
        stage=run.stage,
    )


def record_log(uow: UnitOfWork, run: models.StageRun, line: plugin_pb.LogLine) -> None:
    level = plugin_pb.LogLevel.Name(line.level).removeprefix("LOG_LEVEL_").lower()
    uow.notify(run.avatar_id, "stage_log", {"level": level, "message": line.message}, run_id=run.id, stage=run.stage)


_RESULT_STATES = {
    plugin_pb.RESULT_STATUS_SUCCEEDED: StageState.SUCCEEDED,
    plugin_pb.RESULT_STATUS_FAILED: StageState.FAILED,
    plugin_pb.RESULT_STATUS_CANCELLED: StageState.CANCELLED,
    plugin_pb.RESULT_STATUS_WAITING_FOR_USER: StageState.WAITING_FOR_USER,
}


def record_result(uow: UnitOfWork, run_id: str, result: plugin_pb.Result) -> models.StageRun:
    """The run's end as the plugin reported it; what follows it is host/run_finished.py's."""
    run = locked_run(run_id)
    target = _RESULT_STATES.get(result.status)
    if target is None:
        return fail_run(
            uow,
            run_id,
            plugin_pb.StageError(
                code="plugin_protocol",
                message="the plugin ended the run without a status",
                advice="report this to the plugin's author; retry the stage meanwhile",
            ),
        )
    summary = json.loads(result.summary_json) if result.summary_json else {}
    payload: dict[str, Any] = {"outputs": [o.key for o in result.outputs], "summary": summary}
    fields: dict[str, Any] = {"outputs_json": refs_to_json(result.outputs), "summary_json": result.summary_json}
    if target == StageState.FAILED:
        payload["error"] = _error_payload(result.error)
        fields["error_json"] = error_to_json(result.error)
    if target == StageState.SUCCEEDED:
        fields["progress"] = 1.0
    return transition(uow, run, target, payload, **fields)


def fail_run(uow: UnitOfWork, run_id: str, error: plugin_pb.StageError) -> models.StageRun:
    run = locked_run(run_id)
    return transition(uow, run, StageState.FAILED, {"error": _error_payload(error)}, error_json=error_to_json(error))


def confirm_cancelled(uow: UnitOfWork, run_id: str) -> models.StageRun:
    """The worker confirms that a run it was asked to cancel has stopped."""
    return transition(uow, locked_run(run_id), StageState.CANCELLED, {"reason": "cancelled while running"})


def requeue_run(uow: UnitOfWork, run_id: str, reason: str) -> models.StageRun:
    """Puts an interrupted or failed run back in the queue; its next attempt gets the last checkpoint."""
    run = locked_run(run_id)
    return transition(
        uow, run, StageState.QUEUED, {"reason": reason, "attempt": run.attempt}, error_json="", cancel_requested=False
    )


def set_priority(uow: UnitOfWork, run_id: str, priority: str) -> models.StageRun:
    """An operator moved a waiting run to another priority; its later attempts keep it."""
    run = locked_run(run_id)
    if run.state != StageState.QUEUED.value:
        raise IllegalTransition(
            stage=run.stage,
            code="not_waiting",
            cause=f"run {run.id} is {run.state}, and only a waiting run changes priority",
            advice="list the waiting jobs with `twinforge queue jobs --state queued`",
        )
    previous, run.priority = run.priority, priority
    run.save(only=[models.StageRun.priority])
    uow.notify(run.avatar_id, "stage_priority_changed", {"priority": priority, "previous": previous}, run_id=run.id, stage=run.stage)
    return run


def purge_run(uow: UnitOfWork, run_id: str) -> None:
    """Deletes a failed run for good; its notifications and the artifacts it stored are kept."""
    run = locked_run(run_id)
    if run.state != StageState.FAILED.value:
        raise IllegalTransition(
            stage=run.stage,
            code="not_failed",
            cause=f"run {run.id} is {run.state}, and only failed runs are purged",
            advice="cancel it first if it should stop, or leave it in the history",
        )
    run.delete_instance()
    uow.notify(run.avatar_id, "stage_purged", {"attempts": run.attempt}, run_id=run.id, stage=run.stage)


def _error_payload(error: plugin_pb.StageError) -> dict[str, str]:
    return {"code": error.code, "message": error.message, "advice": error.advice}


RETRAIN_STARTED = "retrain_started"


def run_generation(run: models.StageRun) -> int:
    """Which training generation of its submission a run belongs to: 0 for the flow's own runs,
    g for the runs of the g-th retrain (host/retraining.py), carried in its parameters."""
    return int(json.loads(run.parameters_json or "{}").get("generation", 0))


def record_retrain_plan(avatar_id: str, plan: dict[str, Any]) -> None:
    """Writes a retrain's plan (host/retraining.py) as a `retrain_plan` row and its `retrain_stage`
    rows, the stages it reruns first, in order, then those it keeps. One plan per generation of a
    submission: a second one for the same generation is refused, and its unit of work rolls back."""
    try:
        row = models.RetrainPlan.create(
            avatar=avatar_id, submission_version=plan["submission_version"], generation=plan["generation"],
            from_stage=plan["from"], from_run=plan["from_run"],
        )
    except peewee.IntegrityError as exc:
        raise AlreadyExists(
            stage=plan["from"], code="retrain_started",
            cause=f"generation {plan['generation']} of version {plan['submission_version']} of avatar {avatar_id} was started a moment ago",
            advice=f"follow that retrain (twinforge watch {avatar_id})",
        ) from exc
    stages = [{"stage": stage, "parameters_json": json.dumps(plan["parameters"][stage])} for stage in plan["rerun"]]
    stages += [{"stage": stage, "base_run": run_id} for stage, run_id in plan["base_runs"].items()]
    for position, stage in enumerate(stages):
        models.RetrainStage.create(plan=row, position=position, **stage)


def retrain_plan(avatar_id: str, version: int, generation: int) -> dict[str, Any] | None:
    """The plan a retrain recorded, as `record_retrain_plan` was given it (decoded here, and only
    here): the stages it reruns, with their parameters, and the runs whose outputs stand in for
    every stage it does not rerun. None for a generation no retrain started."""
    row = models.RetrainPlan.get_or_none(
        (models.RetrainPlan.avatar == avatar_id) & (models.RetrainPlan.submission_version == version)
        & (models.RetrainPlan.generation == generation)
    )
    if row is None:
        return None
    stages = list(row.stages.order_by(models.RetrainStage.position))
    rerun = [s for s in stages if s.base_run_id is None]
    return {
        "submission_version": row.submission_version,
        "generation": row.generation,
        "from": row.from_stage,
        "from_run": row.from_run_id,
        "rerun": [s.stage for s in rerun],
        "base_runs": {s.stage: s.base_run_id for s in stages if s.base_run_id is not None},
        "parameters": {s.stage: json.loads(s.parameters_json or "{}") for s in rerun},
    }


def start_next_stages(uow: UnitOfWork, run_id: str, flow: Flow, known_stages: set[str]) -> list[models.StageRun]:
    """After a run succeeded: submits each dependent stage whose every upstream stage has succeeded
    for the same submission and generation. Idempotent, so replaying the same notification starts
    nothing twice. A retrained generation starts only the stages its plan reruns, and takes the
    outputs of the planned runs for the stages it does not rerun."""
    done = get_run(run_id)
    generation = run_generation(done)
    plan = retrain_plan(done.avatar_id, done.submission_version, generation) if generation else None
    started = []
    for stage in flow.dependents(done.stage):
        if generation and (plan is None or stage not in plan["rerun"]):
            continue
        upstream = [_upstream_run(done, s, generation, plan) for s in flow.needs[stage]]
        if any(u is None for u in upstream):
            continue
        exists = models.StageRun.select().where(
            (models.StageRun.avatar == done.avatar_id)
            & (models.StageRun.stage == stage)
            & (models.StageRun.submission_version == done.submission_version)
        )
        if any(run_generation(run) == generation and not _failed_on_damaged_input(run) for run in exists):
            continue
        inputs = [submission_video(done.avatar_id, done.submission_version)]
        for u in upstream:
            inputs.extend(refs_from_json(u.outputs_json))
        parameters = plan["parameters"][stage] if plan else flow_parameters(done.avatar_id, done.submission_version, stage)
        started.append(submit_stage(uow, done.avatar_id, stage, inputs, parameters, known_stages, done.submission_version))
    return started


def _failed_on_damaged_input(run: models.StageRun) -> bool:
    """Such a run is started again once the stage that remakes its input succeeds (host/quarantine.py)."""
    return run.state == StageState.FAILED.value and error_from_json(run.error_json).code == "blob_corrupt"


def _upstream_run(done: models.StageRun, stage: str, generation: int, plan: dict[str, Any] | None) -> models.StageRun | None:
    if plan is not None and stage in plan["base_runs"]:
        return models.StageRun.get_or_none(models.StageRun.id == plan["base_runs"][stage])
    return _succeeded_run(done.avatar_id, stage, done.submission_version, generation)


def succeeded_runs(avatar_id: str, stage: str, version: int) -> list[models.StageRun]:
    """A stage's succeeded runs for one submission version, the newest finished first."""
    return list(
        models.StageRun.select()
        .where(
            (models.StageRun.avatar == avatar_id)
            & (models.StageRun.stage == stage)
            & (models.StageRun.submission_version == version)
            & (models.StageRun.state == StageState.SUCCEEDED.value)
        )
        .order_by(models.StageRun.updated_at.desc())
    )


def _succeeded_run(avatar_id: str, stage: str, version: int, generation: int = 0) -> models.StageRun | None:
    return next((run for run in succeeded_runs(avatar_id, stage, version) if run_generation(run) == generation), None)
