"""The versions of an avatar's editable materials (the cut-out and materials.json) and the undo.

Version 1 is the `cutout` run (with the materials it was cut from); each succeeded
`interactive_edit` run after it is the version its summary names. The newest is the current one,
whose files every next edit takes as inputs. Going back to version K submits an `interactive_edit`
`revert` whose inputs are version K's files: it publishes them again as the newest version, with
its own entry in the edit log, so no version is ever rewritten or lost.

The edit log is read from the message center: each version's run ends with a `stage_succeeded`
notification whose summary holds its `edit` entry (who, what, parameters, resulting version).

An edit is checked against the parameters schema the registered `interactive_edit` plugin declares
before its run is queued, so a person who mistyped an operation hears it at once, not from a failed run.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import jsonschema

from host import registry, use_cases
from host.artifacts import refs_from_json
from host.errors import IllegalTransition, InvalidArgument, NotFound
from host.state import StageState
from host.storage import models
from host.unit_of_work import UnitOfWork
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

CUTOUT_STAGE = "cutout"
EDIT_STAGE = "interactive_edit"
SOURCE_KINDS = ("video", "matte", "training_set")  # what every version is cut from
VERSION_KINDS = ("cutout", "materials")  # what each version consists of for the next edit
IMAGE_KIND = "background_image"
CONTROL = ("operation", "by", "version")  # the edit's own parameters, not arguments of its operation


@dataclass(frozen=True)
class MaterialVersion:
    number: int
    run_id: str
    stage: str
    files: dict[str, plugin_pb.ArtifactRef]  # by kind: cutout, materials, cutout_frames, cutout_preview
    sources: list[plugin_pb.ArtifactRef]  # the video, the matte and the training set
    edit: dict[str, Any]
    created_at: dt.datetime


def _version(run: models.StageRun) -> MaterialVersion:
    summary = json.loads(run.summary_json or "{}")
    inputs = refs_from_json(run.inputs_json)
    files = {ref.kind: ref for ref in refs_from_json(run.outputs_json)}
    if "materials" not in files:  # the cut-out publishes no materials: version 1 has those it was cut from
        files["materials"] = next(ref for ref in inputs if ref.kind == "materials")
    sources = [ref for ref in inputs if ref.kind in SOURCE_KINDS]
    return MaterialVersion(int(summary.get("version", 1)), run.id, run.stage, files, sources, summary.get("edit", {}), run.created_at)


def versions(avatar_id: str) -> list[MaterialVersion]:
    """Every version of the latest cut-out, oldest first (an earlier submission's are not listed)."""
    use_cases.get_avatar(avatar_id)
    succeeded = models.StageRun.state == StageState.SUCCEEDED.value
    latest = (
        models.StageRun.select()
        .where((models.StageRun.avatar == avatar_id) & (models.StageRun.stage == CUTOUT_STAGE) & succeeded)
        .order_by(models.StageRun.created_at.desc())
        .first()
    )
    if latest is None:
        return []
    edits = models.StageRun.select().where(
        (models.StageRun.avatar == avatar_id) & (models.StageRun.stage == EDIT_STAGE) & succeeded
        & (models.StageRun.created_at >= latest.created_at)
    )
    return sorted([_version(latest), *(_version(run) for run in edits)], key=lambda v: v.number)


def current(avatar_id: str) -> MaterialVersion:
    found = versions(avatar_id)
    if not found:
        raise IllegalTransition(
            stage=EDIT_STAGE,
            code="no_cutout",
            cause=f"avatar {avatar_id} has no cut-out to edit yet",
            advice="wait for the cutout stage to finish after the materials are chosen",
        )
    return found[-1]


def edit_inputs(version: MaterialVersion) -> list[plugin_pb.ArtifactRef]:
    return [*version.sources, *(version.files[kind] for kind in VERSION_KINDS)]


def _edit_schema() -> dict[str, Any] | None:
    """The schema the registered plugin declares; None while none is registered (submitting then
    fails with the registry's own advice)."""
    for row in registry.list_plugins(EDIT_STAGE):
        text = registry.description_of(row).parameters_schema_json
        if text:
            return json.loads(text)
    return None


def _check_by(by: str) -> None:
    if not by.strip():
        raise InvalidArgument(
            stage=EDIT_STAGE, code="no_editor", cause="the edit does not say who makes it (by is empty)",
            advice="set by to the person's identity, e.g. telegram:42 or cli:alice; the edit log keeps it",
        )


def edit_parameters(operation: str, arguments: dict[str, Any], by: str) -> dict[str, Any]:
    """The run's parameters for an edit asked for in parts (as the API and the CLI do)."""
    _check_by(by)
    control = sorted(set(arguments) & set(CONTROL))
    if control:
        raise InvalidArgument(
            stage=EDIT_STAGE, code="bad_edit_parameters",
            cause=f"the operation's arguments hold {', '.join(control)}, which are not arguments",
            advice="pass the operation and who edits in their own fields; the host numbers the version",
        )
    return {**arguments, "operation": operation, "by": by}


def check_edit(parameters: dict[str, Any], extra_inputs: list[plugin_pb.ArtifactRef]) -> None:
    """Refuses, before a run is queued, an edit the plugin would refuse."""
    operation = parameters.get("operation")
    _check_by(str(parameters.get("by", "")))
    if operation == "revert":
        raise InvalidArgument(
            stage=EDIT_STAGE, code="revert_is_undo", cause="revert is the undo, not an edit",
            advice="go back with RevertMaterials (twinforge materials back AVATAR VERSION)",
        )
    wrong = [ref.kind for ref in extra_inputs if ref.kind != IMAGE_KIND]
    if wrong:
        raise InvalidArgument(
            stage=EDIT_STAGE, code="bad_edit_input", cause=f"an edit takes only a {IMAGE_KIND} upload, not {', '.join(wrong)}",
            advice=f"upload the background picture with UploadArtifact as kind {IMAGE_KIND}",
        )
    if parameters.get("image") and not extra_inputs:
        raise InvalidArgument(
            stage=EDIT_STAGE, code="no_background_image", cause="a background image was asked for without the picture",
            advice=f"upload it with UploadArtifact as kind {IMAGE_KIND} and pass it as background_image",
        )
    schema = _edit_schema()
    if schema is None:
        return
    operations = [op for op in schema.get("properties", {}).get("operation", {}).get("enum", []) if op != "revert"]
    if operations and operation not in operations:
        raise InvalidArgument(
            stage=EDIT_STAGE, code="unknown_operation", cause=f"there is no edit operation {operation!r}",
            advice=f"use one of: {', '.join(operations)} (docs/materials-editing.md says what each takes)",
        )
    try:
        jsonschema.validate(parameters, schema)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(part) for part in exc.absolute_path) or "parameters"
        raise InvalidArgument(
            stage=EDIT_STAGE, code="bad_edit_parameters", cause=f"the {operation} edit's {where} is wrong: {exc.message}",
            advice="fix that argument (docs/materials-editing.md lists each operation's arguments)",
        ) from None


def submit_edit(
    uow: UnitOfWork, avatar_id: str, parameters: dict[str, Any], known_stages: set[str],
    extra_inputs: list[plugin_pb.ArtifactRef] | None = None,
) -> models.StageRun:
    """Queues an edit of the current version as the next version (the caller dispatches the run
    after the commit, as for any submitted stage). `extra_inputs`: an uploaded background_image."""
    check_edit(parameters, extra_inputs or [])
    latest = current(avatar_id)
    return use_cases.submit_stage(
        uow, avatar_id, EDIT_STAGE, [*edit_inputs(latest), *(extra_inputs or [])],
        {**parameters, "version": latest.number + 1}, known_stages,
    )


def go_back(uow: UnitOfWork, avatar_id: str, number: int, by: str, known_stages: set[str]) -> models.StageRun:
    """Queues the undo to version `number`: a new version equal to it."""
    _check_by(by)
    if number < 1:
        raise InvalidArgument(
            stage=EDIT_STAGE, code="unknown_version", cause=f"materials version {number} cannot exist; versions count from 1",
            advice="pick one of the avatar's versions (twinforge materials versions AVATAR)",
        )
    found = versions(avatar_id)
    wanted = next((v for v in found if v.number == number), None)
    if wanted is None:
        listed = ", ".join(str(v.number) for v in found) or "none"
        raise NotFound(
            stage=EDIT_STAGE,
            code="unknown_version",
            cause=f"avatar {avatar_id} has no materials version {number} (versions: {listed})",
            advice="pick one of the listed versions (twinforge materials versions AVATAR)",
        )
    parameters = {"operation": "revert", "to_version": number, "by": by, "version": found[-1].number + 1}
    return use_cases.submit_stage(uow, avatar_id, EDIT_STAGE, edit_inputs(wanted), parameters, known_stages)


def edit_log(avatar_id: str) -> list[dict[str, Any]]:
    """The edit entries of the avatar's message center, oldest first, each with its run id."""
    rows = (
        models.Notification.select()
        .where(
            (models.Notification.avatar == avatar_id)
            & (models.Notification.kind == f"stage_{StageState.SUCCEEDED.value}")
            & (models.Notification.stage.in_([CUTOUT_STAGE, EDIT_STAGE]))
        )
        .order_by(models.Notification.seq)
    )
    entries = []
    for row in rows:
        edit = json.loads(row.payload_json).get("summary", {}).get("edit")
        if edit:
            entries.append({**edit, "run_id": row.run_id})
    return entries
