"""One-click deployment (issue #9): an approved avatar is packaged, then started on a target.

Two stages, both plugins: `image_packaging` turns the approved round's sub-models and materials into
an OCI image (stored, and pushed when a registry is configured), and `deployment` starts that image
on the target (a local process, or Kubernetes objects) or stops it (`action: undeploy`). The host
only chains them and remembers nothing new: where an avatar answers is the summary of its newest
succeeded deployment run, unless an undeploy ran after it. The record is the avatar's run history,
so a host restart loses no endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from host import approval, use_cases
from host.artifacts import refs_from_json
from host.errors import IllegalTransition, InvalidArgument, NotFound
from host.state import StageState
from host.storage import models
from host.unit_of_work import UnitOfWork

PACKAGING = "image_packaging"
DEPLOYMENT = "deployment"
TARGETS = ("local", "kubernetes")
IMAGE_KIND = "image"
CUTOUT_STAGE = "cutout"
DEPLOY_REQUESTED = "deploy_requested"
DEPLOYED = "avatar_deployed"
UNDEPLOYED = "avatar_undeployed"
MANIFESTS_WRITTEN = "deployment_manifests_written"


def deploy(uow: UnitOfWork, avatar_id: str, target: str, by: str, known_stages: set[str]) -> models.StageRun:
    """Submits the packaging of the approved round; the caller dispatches the run after the commit.
    The deployment stage follows it (`after_packaging`)."""
    target = target or TARGETS[0]
    if target not in TARGETS:
        raise InvalidArgument(stage=DEPLOYMENT, code="unknown_target", cause=f"{target!r} is not a deploy target",
                              advice=f"use one of {', '.join(TARGETS)}")
    use_cases.get_avatar(avatar_id)
    allowed, why = approval.can_deploy(avatar_id)
    if not allowed:
        raise IllegalTransition(stage=DEPLOYMENT, code="not_approved", cause=f"avatar {avatar_id} cannot be deployed: {why}",
                                advice=f"review the preview and approve it first (twinforge avatar approve {avatar_id})")
    approved = approval.rounds(avatar_id)[-1]
    evaluation = use_cases.get_run(approved["evaluation_run"])
    inputs = list(refs_from_json(evaluation.inputs_json))
    cutout = use_cases.succeeded_runs(avatar_id, CUTOUT_STAGE, evaluation.submission_version)
    if cutout:
        inputs.extend(ref for ref in refs_from_json(cutout[0].outputs_json) if ref.kind == "cutout")
    parameters = {
        "round": approved["round"],
        "submission_version": evaluation.submission_version,
        "measures": approved["mean"].get("render", {}),
    }
    run = use_cases.submit_stage(uow, avatar_id, PACKAGING, inputs, parameters, known_stages, evaluation.submission_version)
    uow.notify(avatar_id, DEPLOY_REQUESTED, {"by": by, "target": target, "round": approved["round"]}, run_id=run.id, stage=PACKAGING)
    return run


def after_packaging(uow: UnitOfWork, run_id: str, known_stages: set[str]) -> list[models.StageRun]:
    """Once an image is built: the deployment run that starts it on the target the packaging was
    asked for. Idempotent, so a replayed notification starts nothing twice."""
    done = use_cases.get_run(run_id)
    if done.stage != PACKAGING or done.state != StageState.SUCCEEDED.value:
        return []
    images = [ref for ref in refs_from_json(done.outputs_json) if ref.kind == IMAGE_KIND]
    if not images:
        return []
    started = models.StageRun.select().where((models.StageRun.avatar == done.avatar_id) & (models.StageRun.stage == DEPLOYMENT))
    if any(json.loads(run.parameters_json or "{}").get("packaging_run") == run_id for run in started):
        return []
    asked = _requested(run_id)
    parameters = {"action": "deploy", "target": asked.get("target", TARGETS[0]), "packaging_run": run_id,
                  "round": json.loads(done.parameters_json or "{}").get("round"), "image": json.loads(done.summary_json or "{}").get("image", {})}
    return [use_cases.submit_stage(uow, done.avatar_id, DEPLOYMENT, images, parameters, known_stages, done.submission_version)]


def _requested(packaging_run: str) -> dict[str, Any]:
    """What the person asked for with the packaging (the target): the packaging stage builds the
    same image for every target, so the request is kept beside it, in its notification."""
    row = models.Notification.get_or_none((models.Notification.run_id == packaging_run) & (models.Notification.kind == DEPLOY_REQUESTED))
    return json.loads(row.payload_json) if row is not None else {}


def deployment_finished(uow: UnitOfWork, run: models.StageRun) -> None:
    """Tells the person that the avatar is live (or gone) once a deployment run succeeded, or, for
    a cluster the platform could not reach (no kubeconfig), that its manifests were written only."""
    if run.stage != DEPLOYMENT or run.state != StageState.SUCCEEDED.value:
        return
    parameters = json.loads(run.parameters_json or "{}")
    summary = json.loads(run.summary_json or "{}")
    if parameters.get("action") == "undeploy":
        uow.notify(run.avatar_id, UNDEPLOYED, {"target": parameters.get("target")}, run_id=run.id, stage=DEPLOYMENT)
    elif "manifests" in summary:
        uow.notify(run.avatar_id, MANIFESTS_WRITTEN, summary["manifests"], run_id=run.id, stage=DEPLOYMENT)
    else:
        uow.notify(run.avatar_id, DEPLOYED, summary.get("endpoint", {}), run_id=run.id, stage=DEPLOYMENT)


def undeploy(uow: UnitOfWork, avatar_id: str, by: str, known_stages: set[str]) -> models.StageRun:
    """Submits the run that stops the avatar's live service on its target."""
    live, why = endpoint(avatar_id)
    if live is None:
        raise NotFound(stage=DEPLOYMENT, code="not_deployed", cause=f"avatar {avatar_id} is not deployed: {why}",
                       advice=f"deploy it first (twinforge deploy {avatar_id})")
    stored = {key: value for key, value in live.items() if key != "deployed_at"}
    parameters = {"action": "undeploy", "target": live["target"], "endpoint": stored, "by": by}
    version = use_cases.get_run(live["run_id"]).submission_version
    return use_cases.submit_stage(uow, avatar_id, DEPLOYMENT, [], parameters, known_stages, version)


def endpoint(avatar_id: str) -> tuple[dict[str, Any] | None, str]:
    """The live service's endpoint (the newest deployment's summary) and, when there is none, why."""
    runs = list(
        models.StageRun.select()
        .where((models.StageRun.avatar == avatar_id) & (models.StageRun.stage == DEPLOYMENT)
               & (models.StageRun.state == StageState.SUCCEEDED.value))
        .order_by(models.StageRun.updated_at.desc(), models.StageRun.id.desc())
    )
    if not runs:
        return None, "it was never deployed"
    newest = runs[0]
    if json.loads(newest.parameters_json or "{}").get("action") == "undeploy":
        return None, f"it was undeployed (run {newest.id})"
    summary = json.loads(newest.summary_json or "{}")
    if "manifests" in summary:
        return None, (f"its Kubernetes manifests were written (run {newest.id}) but not applied: no kubeconfig was set "
                      "(set TWINFORGE_KUBECONFIG and deploy again, or apply them with kubectl)")
    found = summary.get("endpoint")
    if not found:
        return None, f"the deployment run {newest.id} reported no endpoint"
    return {**found, "run_id": newest.id, "deployed_at": newest.updated_at}, ""
