"""Blobs whose bytes no longer match the sha256 recorded when they were stored: found on read, set
aside, made again.

A damaged blob is never served again: it moves under `quarantine/` with the hash it should have
had (the operator can still inspect it), its artifact row says where it went, and the run that made
it runs again with the same inputs and parameters, so the stages after it read a fresh copy
(use_cases.start_next_stages restarts a stage that failed on a damaged input). An upload has no run
to repeat: the person is asked to send the file again. Either way the person is told what happened.
"""

from __future__ import annotations

import hashlib
import json
import logging

from host import registry, use_cases
from host.artifacts import refs_from_json
from host.bootstrap import Runtime
from host.errors import AlreadyExists, IntegrityError, NotFound, TwinforgeError
from host.storage import models
from host.storage.blobs import BlobStore, blob_missing
from host.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

PREFIX = "quarantine/"
CORRUPT = "blob_corrupt"
NOTIFICATION = "artifact_quarantined"


def stored_sha256(blobs: BlobStore, key: str) -> str | None:
    """Hashes what the store holds now, streaming; None when nothing is stored under the key."""
    try:
        chunks = blobs.iter_chunks(key)
    except NotFound:
        return None
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def quarantined_at(artifact: models.Artifact) -> str:
    """Where the artifact's damaged blob was moved; empty while it is whole."""
    return json.loads(artifact.metadata_json or "{}").get("quarantined", {}).get("key", "")


def damaged(artifact: models.Artifact) -> IntegrityError:
    return IntegrityError(
        stage=artifact.run.stage if artifact.run else "uploads",
        code="blob_quarantined",
        cause=f"the stored blob {artifact.key} was damaged (its bytes no longer match the sha256 recorded when it was made) "
        f"and was set aside under {PREFIX}",
        advice="use the artifact of the stage's new run once it finishes (watch the notifications)"
        if artifact.run
        else "upload the file again",
    )


def verify(runtime: Runtime, artifact: models.Artifact) -> None:
    """Before serving an artifact: a damaged blob is quarantined and remade, and the read fails."""
    if quarantined_at(artifact):
        raise damaged(artifact)
    found = stored_sha256(runtime.blobs, artifact.key)
    if found is None:
        raise blob_missing(artifact.key)
    if found != artifact.sha256:
        quarantine(runtime, artifact, found)
        raise damaged(artifact)


def check_inputs(runtime: Runtime, run: models.StageRun) -> list[models.StageRun]:
    """After a run failed reading a damaged blob: rehashes its inputs (rare, so reading them again
    is affordable) and quarantines every one that no longer matches. Returns the reruns started."""
    refs = refs_from_json(run.inputs_json) + refs_from_json(run.checkpoint_json)
    reruns = []
    for ref in refs:
        artifact = models.Artifact.get_or_none(models.Artifact.key == ref.key)
        if artifact is None or quarantined_at(artifact):
            continue
        found = stored_sha256(runtime.blobs, artifact.key)
        if found is not None and found != artifact.sha256:
            rerun = quarantine(runtime, artifact, found)
            if rerun is not None:
                reruns.append(rerun)
    return reruns


def quarantine(runtime: Runtime, artifact: models.Artifact, found_sha256: str) -> models.StageRun | None:
    """Moves the blob aside first, so it is never served again even if what follows fails."""
    moved = f"{PREFIX}{artifact.key}"
    try:
        runtime.blobs.move(artifact.key, moved)
    except NotFound:
        return None  # another reader found it first and did the rest
    log.warning("damaged blob quarantined", extra={"key": artifact.key, "quarantine_key": moved})
    with runtime.uow() as uow:
        metadata = json.loads(artifact.metadata_json or "{}")
        metadata["quarantined"] = {"key": moved, "found_sha256": found_sha256}
        models.Artifact.update(metadata_json=json.dumps(metadata, sort_keys=True)).where(
            models.Artifact.key == artifact.key
        ).execute()
        rerun, advice = _remake(uow, artifact)
        uow.notify(
            artifact.avatar_id,
            NOTIFICATION,
            {
                "key": artifact.key,
                "kind": artifact.kind,
                "quarantine_key": moved,
                "expected_sha256": artifact.sha256,
                "found_sha256": found_sha256,
                "rerun_id": rerun.id if rerun else "",
                "message": f"a stored {artifact.kind} was damaged on disk (its bytes changed since it was made); "
                "it was set aside and will not be used again",
                "advice": advice,
            },
            run_id=rerun.id if rerun else "",
            stage=artifact.run.stage if artifact.run else "uploads",
        )
    if rerun is not None:
        runtime.dispatch([rerun])
    return rerun


def _remake(uow: UnitOfWork, artifact: models.Artifact) -> tuple[models.StageRun | None, str]:
    made_by = artifact.run
    if made_by is None:
        return None, "upload the file again, then resubmit it"
    try:
        rerun = use_cases.submit_stage(
            uow,
            made_by.avatar_id,
            made_by.stage,
            refs_from_json(made_by.inputs_json),
            json.loads(made_by.parameters_json or "{}"),
            registry.known_stages(),
            made_by.submission_version,
        )
    except AlreadyExists:
        return None, f"nothing to do: stage {made_by.stage} is already running again and makes a fresh copy"
    except TwinforgeError as exc:
        return None, f"run stage {made_by.stage} again once it can run ({exc.cause})"
    return rerun, f"nothing to do: stage {made_by.stage} runs again, and the stages after it use the fresh copy"
