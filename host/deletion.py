"""Deleting an avatar and all its data: a person's face, voice and model are theirs to take back.

Everything of an avatar is in two places: its database rows (the avatar, its submissions, stage
runs, artifacts, notifications, rounds and retrain plans, all keyed by it) and its blobs, which are all under
`avatars/<id>/` (host/storage/blobs.py `blob_key`: uploads, training sets, checkpoints, models,
previews, images) or, once damaged, under `quarantine/avatars/<id>/`. A live service holds a copy
of the model, so a deployed avatar is undeployed first (its local folder goes with the undeploy);
a stage still working on it would write blobs after they were deleted, so queued and running
stages are cancelled first, or the deletion is refused. Blobs go before rows: a deletion cut off
half way leaves the avatar listed with fewer files, and running it again finishes it.

Images pushed to a registry stay there: a registry's deletion is its operator's (many registries
refuse it), so the answer names each one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from host import deployments, use_cases
from host.bootstrap import Runtime
from host.errors import IllegalTransition
from host.quarantine import PREFIX as QUARANTINE
from host.state import ACTIVE_VALUES
from host.storage import models
from scheduler.admin import cancel as cancel_job

log = logging.getLogger(__name__)
STAGE = "deletion"


@dataclass
class Deleted:
    deleted: bool
    message: str
    blobs: int = 0
    rows: int = 0
    cancelled: list[str] = field(default_factory=list)
    registry_images: list[str] = field(default_factory=list)


def delete_avatar(runtime: Runtime, avatar_id: str, by: str, cancel_running: bool) -> Deleted:
    """Deletes the avatar's blobs and rows; refuses (in words) while it is deployed or, unless
    `cancel_running`, while a stage of it is queued or running."""
    use_cases.get_avatar(avatar_id)
    live, _ = deployments.endpoint(avatar_id)
    if live is not None:
        raise IllegalTransition(
            stage=STAGE, code="deployed",
            cause=f"avatar {avatar_id} is live ({live.get('target', 'deployed')}): its service holds a copy of the model",
            advice=f"undeploy it first (twinforge undeploy {avatar_id}), then delete it",
        )
    active = _active(avatar_id)
    if active and not cancel_running:
        raise IllegalTransition(
            stage=STAGE, code="stages_running",
            cause=f"{_listed(active)} of avatar {avatar_id} {'is' if len(active) == 1 else 'are'} queued or running",
            advice=f"wait for them to finish, or cancel them and delete: twinforge avatar delete {avatar_id} --cancel",
        )
    cancelled = [cancel_job(runtime, run.id, f"the avatar is being deleted by {by}").id for run in active]
    still = _active(avatar_id)
    if still:
        return Deleted(False, f"asked {_listed(still)} to stop; running stages stop at their next report, within seconds: "
                              f"delete avatar {avatar_id} again then", cancelled=cancelled)
    images = _registry_images(avatar_id)
    blobs = runtime.blobs.delete_prefix(f"avatars/{avatar_id}/") + runtime.blobs.delete_prefix(f"{QUARANTINE}avatars/{avatar_id}/")
    with runtime.uow():
        avatar = models.Avatar.get_by_id(avatar_id)
        rows = 1 + _rows(avatar_id)
        avatar.delete_instance(recursive=True)
    log.info("avatar deleted", extra={"avatar_id": avatar_id, "by": by, "blobs": blobs, "rows": rows, "cancelled": len(cancelled)})
    kept = f"; {len(images)} image(s) stay on their registry: {', '.join(images)}" if images else ""
    return Deleted(True, f"avatar {avatar_id} and all its data are deleted ({blobs} files, {rows} records){kept}", blobs, rows,
                   cancelled, images)


def _rows(avatar_id: str) -> int:
    """How many rows of the avatar's history the deletion removes (a retrain plan's stages are
    the plan's, not keyed by the avatar)."""
    tables = (models.Submission, models.StageRun, models.Artifact, models.Notification, models.Round, models.RetrainPlan, models.OperatorTask)
    stages = models.RetrainStage.select().join(models.RetrainPlan).where(models.RetrainPlan.avatar == avatar_id).count()
    return stages + sum(table.select().where(table.avatar == avatar_id).count() for table in tables)


def _active(avatar_id: str) -> list[models.StageRun]:
    return list(models.StageRun.select().where((models.StageRun.avatar == avatar_id) & models.StageRun.state.in_(ACTIVE_VALUES))
                .order_by(models.StageRun.created_at))


def _listed(runs: list[models.StageRun]) -> str:
    names = ", ".join(sorted({run.stage for run in runs}))
    return f"{len(runs)} stage{'' if len(runs) == 1 else 's'} ({names})"


def _registry_images(avatar_id: str) -> list[str]:
    runs = models.StageRun.select().where((models.StageRun.avatar == avatar_id) & (models.StageRun.stage == deployments.PACKAGING))
    found = (json.loads(run.summary_json or "{}").get("image", {}).get("pushed_reference") for run in runs)
    return sorted({reference for reference in found if reference})
