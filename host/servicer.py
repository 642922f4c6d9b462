"""HostServicer: protobuf in, handler calls in a unit of work, protobuf out. No logic lives here.

Each RPC reaches an avatar, run or artifact only through host/auth.py, which knows the caller the
interceptor resolved: someone else's answers as if it did not exist.

peewee is synchronous, so each RPC's database work runs in a thread; the event loop stays free for
streams (notifications, uploads, downloads).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
from pathlib import Path


from host import (approval, auth, content_types, convert, deletion, deployments, material_versions, operator_tasks, quarantine, quotas, registry,
                  use_cases)
from host.bootstrap import Runtime
from host.errors import IntegrityError, InvalidArgument, TooLarge
from host.notifications import follow
from host.storage import models
from host.storage.blobs import blob_key, disk_full_as_unavailable
from scheduler.admin import cancel as cancel_job
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

UPLOAD_STAGE = "uploads"
MAX_KIND_CHARACTERS = 64  # the artifact table's column


def material_version(version: material_versions.MaterialVersion, current: bool) -> host_pb.MaterialVersion:
    edit = version.edit
    return host_pb.MaterialVersion(
        version=version.number, run_id=version.run_id, stage=version.stage, current=current,
        files=[version.files[kind] for kind in sorted(version.files)], created_at=convert.timestamp(version.created_at),
        edit=host_pb.MaterialEdit(
            version=int(edit.get("version", version.number)), by=edit.get("by", ""), operation=edit.get("operation", ""),
            parameters_json=json.dumps(edit.get("parameters", {}), sort_keys=True), based_on=int(edit.get("based_on", 0)),
            words=edit.get("words", ""),
        ),
    )


def approval_round(item: dict) -> host_pb.Round:
    return host_pb.Round(
        round=item.get("round", 0), evaluation_run=item["evaluation_run"], submission_version=item["submission_version"],
        generation=item["generation"], passed=item["passed"], preset=item["preset"], words=item["words"],
        measures_json=json.dumps(item["mean"], sort_keys=True), results_json=json.dumps(item["results"], sort_keys=True),
        preview=item["preview"], verdict=item["verdict"] or "",
        by=item["by"], reason=item["reason"], text=item["text"], adjustment=item["adjustment"],
        retrain_generation=item["retrain_generation"] or 0, voice_preview=item["voice_preview"], voice=item["voice"],
    )


def operator_task(item: dict) -> host_pb.OperatorTask:
    task = host_pb.OperatorTask(
        task_id=item["task_id"], avatar_id=item["avatar_id"], avatar_name=item["avatar_name"], owner=item["owner"], round=item["round"],
        evaluation_run=item["evaluation_run"], text=item["text"], asked_by=item["asked_by"], created_at=convert.timestamp(item["created_at"]),
        outcome=item["outcome"], answer=item["answer"], answered_by=item["answered_by"], retrain_reason=item["retrain_reason"],
        retrain_generation=item["retrain_generation"] or 0,
    )
    if item["answered_at"] is not None:
        task.answered_at.CopyFrom(convert.timestamp(item["answered_at"]))
    return task


def parse_parameters(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        raise InvalidArgument(code="bad_parameters", cause=f"parameters_json is not JSON: {exc}", advice="send a JSON object, e.g. {}") from exc
    if not isinstance(value, dict):
        raise InvalidArgument(code="bad_parameters", cause="parameters_json must be a JSON object", advice="send a JSON object, e.g. {}")
    return value


class HostServicer(host_grpc.HostServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def RegisterPlugin(self, request, context):
        description = await registry.describe(request.address)
        row = await asyncio.to_thread(registry.register, request.address, description)
        return host_pb.RegisterPluginResponse(
            plugin=convert.plugin_info(row), heartbeat_interval_seconds=self.runtime.settings.heartbeat_interval_s
        )

    async def Heartbeat(self, request, context):
        row = await asyncio.to_thread(registry.heartbeat, request.plugin_id)
        return host_pb.HeartbeatResponse(health=convert.plugin_info(row).health)

    async def DeregisterPlugin(self, request, context):
        await asyncio.to_thread(registry.deregister, request.plugin_id)
        return host_pb.DeregisterPluginResponse()

    async def ListPlugins(self, request, context):
        rows = await asyncio.to_thread(registry.list_plugins, request.stage)
        return host_pb.ListPluginsResponse(plugins=[convert.plugin_info(r) for r in rows])

    async def CreateAvatar(self, request, context):
        def create():
            owner = auth.new_owner(request.owner)
            quotas.check_new_avatar(owner, self.runtime.settings)
            with self.runtime.uow() as uow:
                avatar = use_cases.create_avatar(uow, owner, request.name)
            return convert.avatar(avatar)

        return host_pb.CreateAvatarResponse(avatar=await asyncio.to_thread(create))

    async def GetAvatar(self, request, context):
        avatar = await asyncio.to_thread(lambda: convert.avatar(auth.avatar(request.avatar_id)))
        return host_pb.GetAvatarResponse(avatar=avatar)

    async def ListAvatars(self, request, context):
        def rows():
            query = auth.avatars().order_by(models.Avatar.created_at)
            if request.owner:
                query = query.where(models.User.external_id == request.owner)
            return [convert.avatar(a) for a in query]

        return host_pb.ListAvatarsResponse(avatars=await asyncio.to_thread(rows))

    async def DeleteAvatar(self, request, context):
        def delete():
            auth.avatar(request.avatar_id)
            return deletion.delete_avatar(self.runtime, request.avatar_id, request.by or "unknown", request.cancel_running)

        done = await asyncio.to_thread(delete)
        return host_pb.DeleteAvatarResponse(deleted=done.deleted, blobs_deleted=done.blobs, rows_deleted=done.rows,
                                            cancelled_runs=done.cancelled, message=done.message, registry_images=done.registry_images)

    async def CreateSubmission(self, request, context):
        def create():
            auth.avatar(request.avatar_id)
            quotas.check_new_work(request.avatar_id, self.runtime.settings, training=True)
            with self.runtime.uow() as uow:
                submission, runs = use_cases.create_submission(
                    uow, request.avatar_id, request.video, self.runtime.flow, registry.known_stages(), request.preset
                )
            self.runtime.dispatch(runs)
            return host_pb.CreateSubmissionResponse(
                submission=convert.submission(submission), started=[convert.stage_run(r) for r in runs]
            )

        return await asyncio.to_thread(create)

    async def SubmitStage(self, request, context):
        parameters = parse_parameters(request.parameters_json)

        def submit():
            auth.avatar(request.avatar_id)
            quotas.check_new_work(request.avatar_id, self.runtime.settings, training=False)
            with self.runtime.uow() as uow:
                run = use_cases.submit_stage(
                    uow, request.avatar_id, request.stage, list(request.inputs), parameters, registry.known_stages()
                )
            self.runtime.dispatch([run])
            return convert.stage_run(run)

        return host_pb.SubmitStageResponse(run=await asyncio.to_thread(submit))

    async def ListStageRuns(self, request, context):
        def rows():
            auth.avatar(request.avatar_id)
            query = models.StageRun.select().where(models.StageRun.avatar == request.avatar_id)
            if request.stage:
                query = query.where(models.StageRun.stage == request.stage)
            return [convert.stage_run(r) for r in query.order_by(models.StageRun.created_at)]

        return host_pb.ListStageRunsResponse(runs=await asyncio.to_thread(rows))

    async def CancelStageRun(self, request, context):
        def cancel():
            auth.run(request.run_id)
            return convert.stage_run(cancel_job(self.runtime, request.run_id, request.reason or "cancelled by request"))

        return host_pb.CancelStageRunResponse(run=await asyncio.to_thread(cancel))

    async def WatchNotifications(self, request, context):
        if request.avatar_id:
            await asyncio.to_thread(auth.avatar, request.avatar_id)
        visible = auth.visibility()
        async for row in follow(request.avatar_id, request.after_seq, self.runtime.settings.resolved_redis_url):
            if request.avatar_id or await asyncio.to_thread(visible, row.avatar_id):
                yield host_pb.WatchNotificationsResponse(notification=convert.notification(row))

    async def UploadArtifact(self, request_iterator, context):
        """Spools the stream to a temporary file (bounded memory), then stores it under a key the
        host chooses: the person's file name is kept only as metadata."""
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidArgument(code="upload_without_header", cause="the upload did not start with a header", advice="send an UploadHeader first, then the chunks")
        header = first.header
        await asyncio.to_thread(auth.avatar, header.avatar_id)
        kind = header.kind or "file"
        if len(kind) > MAX_KIND_CHARACTERS:
            raise InvalidArgument(code="bad_kind", cause=f"an artifact kind has at most {MAX_KIND_CHARACTERS} characters, this one {len(kind)}",
                                  advice="name the kind in a word, e.g. video or background_image")
        limit = self.runtime.settings.max_upload_bytes
        spool_dir = self.runtime.settings.resolved_data_dir / "tmp"
        spool_dir.mkdir(parents=True, exist_ok=True)
        with disk_full_as_unavailable(spool_dir, "the upload was not stored"), tempfile.NamedTemporaryFile(dir=spool_dir, prefix="upload-") as spool:
            size = 0
            async for part in request_iterator:
                size += len(part.chunk)
                if size > limit:
                    raise TooLarge(
                        code="upload_too_large",
                        cause=f"the upload is larger than the limit of {limit / 1024**2:.0f} MB",
                        advice="send a shorter or more compressed video (1 to 5 minutes is enough)",
                    )
                await asyncio.to_thread(spool.write, part.chunk)
            await asyncio.to_thread(spool.flush)
            with open(spool.name, "rb") as spooled:
                media_type = content_types.check_upload(kind, spooled.read(content_types.HEAD_BYTES), header.filename[:256])
            upload_id = models.new_id()
            key = blob_key(header.avatar_id, UPLOAD_STAGE, upload_id, kind)
            info = await asyncio.to_thread(self.runtime.blobs.put_file, key, Path(spool.name), header.sha256 or None)

        metadata = json.dumps({"filename": header.filename[:256], "media_type": media_type}, sort_keys=True)

        def record():
            with self.runtime.uow() as uow:
                models.Artifact.create(
                    key=info.key, avatar=header.avatar_id, kind=kind, name=kind, sha256=info.sha256, size=info.size, metadata_json=metadata
                )
                uow.notify(header.avatar_id, "artifact_uploaded", {"key": info.key, "kind": kind, "size": info.size})

        await asyncio.to_thread(record)
        return host_pb.UploadArtifactResponse(
            artifact=plugin_pb.ArtifactRef(key=info.key, kind=kind, sha256=info.sha256, size=info.size, name=kind, metadata_json=metadata)
        )

    async def DownloadArtifact(self, request, context):
        artifact = await asyncio.to_thread(auth.artifact, request.key)
        # Hashed before the first byte goes out, so a damaged blob is quarantined, not served.
        await asyncio.to_thread(quarantine.verify, self.runtime, artifact)
        chunks = await asyncio.to_thread(self.runtime.blobs.iter_chunks, artifact.key, self.runtime.settings.upload_chunk_bytes)
        digest = hashlib.sha256()
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            digest.update(chunk)
            yield host_pb.DownloadArtifactResponse(chunk=chunk)
        if digest.hexdigest() != artifact.sha256:
            raise IntegrityError(
                stage=artifact.run.stage if artifact.run else UPLOAD_STAGE,
                code="blob_corrupt",
                cause=f"the stored blob {artifact.key} no longer matches its sha256; the download is invalid",
                advice="discard what was received and run the stage that made it again",
            )

    async def ListMaterialVersions(self, request, context):
        def rows():
            auth.avatar(request.avatar_id)
            found = material_versions.versions(request.avatar_id)
            return [material_version(v, i == len(found) - 1) for i, v in enumerate(found)]

        return host_pb.ListMaterialVersionsResponse(versions=await asyncio.to_thread(rows))

    async def EditMaterials(self, request, context):
        parameters = material_versions.edit_parameters(request.operation, parse_parameters(request.parameters_json), request.by)
        image = [request.background_image] if request.HasField("background_image") else []

        def submit():
            auth.avatar(request.avatar_id)
            with self.runtime.uow() as uow:
                run = material_versions.submit_edit(uow, request.avatar_id, parameters, registry.known_stages(), image)
            self.runtime.dispatch([run])
            return host_pb.EditMaterialsResponse(run=convert.stage_run(run), version=json.loads(run.parameters_json)["version"])

        return await asyncio.to_thread(submit)

    async def RevertMaterials(self, request, context):
        def submit():
            auth.avatar(request.avatar_id)
            with self.runtime.uow() as uow:
                run = material_versions.go_back(uow, request.avatar_id, request.version, request.by, registry.known_stages())
            self.runtime.dispatch([run])
            return host_pb.RevertMaterialsResponse(run=convert.stage_run(run), version=json.loads(run.parameters_json)["version"])

        return await asyncio.to_thread(submit)

    async def ApproveAvatar(self, request, context):
        def approve():
            auth.avatar(request.avatar_id)
            with self.runtime.uow() as uow:
                judged = approval.approve(uow, request.avatar_id, request.by)
            allowed, why = approval.can_deploy(request.avatar_id)
            return host_pb.ApproveAvatarResponse(round=approval_round(judged), can_deploy=allowed, deploy_reason=why)

        return await asyncio.to_thread(approve)

    async def RejectAvatar(self, request, context):
        def reject():
            auth.avatar(request.avatar_id)
            with self.runtime.uow() as uow:
                judged, started, words = approval.reject(
                    uow, request.avatar_id, request.by, request.reason, request.text, self.runtime.flow, registry.known_stages(),
                    self.runtime.settings.max_rejections,
                )
            self.runtime.dispatch(started)
            return host_pb.RejectAvatarResponse(round=approval_round(judged), started=[convert.stage_run(r) for r in started], message=words)

        return await asyncio.to_thread(reject)

    async def ListOperatorTasks(self, request, context):
        def rows():
            return host_pb.ListOperatorTasksResponse(tasks=[operator_task(t) for t in operator_tasks.tasks(request.include_answered)])

        return await asyncio.to_thread(rows)

    async def AnswerOperatorTask(self, request, context):
        def answer():
            auth.operator_only("answer a person's words about their avatar")
            with self.runtime.uow() as uow:
                task, started = operator_tasks.answer(uow, request.task_id, request.by or auth.current().external_id, request.answer,
                                                      request.retrain_reason, self.runtime.flow, registry.known_stages())
            self.runtime.dispatch(started)
            return host_pb.AnswerOperatorTaskResponse(task=operator_task(task), started=[convert.stage_run(r) for r in started])

        return await asyncio.to_thread(answer)

    async def Deploy(self, request, context):
        def deploy():
            auth.avatar(request.avatar_id)
            with self.runtime.uow() as uow:
                run = deployments.deploy(uow, request.avatar_id, request.target, request.by, registry.known_stages())
            self.runtime.dispatch([run])
            return host_pb.DeployResponse(run=convert.stage_run(run))

        return await asyncio.to_thread(deploy)

    async def Undeploy(self, request, context):
        def undeploy():
            auth.avatar(request.avatar_id)
            with self.runtime.uow() as uow:
                run = deployments.undeploy(uow, request.avatar_id, request.by, registry.known_stages())
            self.runtime.dispatch([run])
            return host_pb.UndeployResponse(run=convert.stage_run(run))

        return await asyncio.to_thread(undeploy)

    async def GetEndpoint(self, request, context):
        def get():
            auth.avatar(request.avatar_id)
            live, why = deployments.endpoint(request.avatar_id)
            if live is None:
                return host_pb.GetEndpointResponse(reason=why)
            return host_pb.GetEndpointResponse(endpoint=host_pb.Endpoint(
                avatar_id=request.avatar_id, target=live.get("target", ""), grpc_address=live.get("grpc_address", ""),
                http_address=live.get("http_address", ""), image_reference=live.get("image_reference", ""),
                image_digest=live.get("image_digest", ""), run_id=live["run_id"], deployed_at=convert.timestamp(live["deployed_at"]),
            ))

        return await asyncio.to_thread(get)

    async def ListRounds(self, request, context):
        def rows():
            auth.avatar(request.avatar_id)
            found = approval.rounds(request.avatar_id)
            allowed, why = approval.can_deploy(request.avatar_id)
            return host_pb.ListRoundsResponse(rounds=[approval_round(r) for r in found], can_deploy=allowed, deploy_reason=why)

        return await asyncio.to_thread(rows)
