"""The host's gRPC API as the bot calls it (grpc.aio): one method per call it makes, each on behalf
of the person being served (bot/acting.py), and every refusal turned into `HostError`, a sentence
the person can read with what to do next."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import grpc

from bot import acting
from host.channels import host_channel_aio
from host.errors import TwinforgeError
from host.settings import Settings, get_settings
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.inference.v1 import inference_service_pb2 as inference_pb
from twinforge.inference.v1 import inference_service_pb2_grpc as inference_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

TIMEOUT_S = 30
RENDER_TIMEOUT_S = 900


class HostError(TwinforgeError):
    """A call the host (or the avatar's service) refused or could not answer, in the platform's one
    error family: `words` says why and what to do, `unavailable` that nobody answered at all."""

    def __init__(self, cause: str, advice: str = "", unavailable: bool = False, code: str = "host_refused") -> None:
        super().__init__(cause=cause, advice=advice, stage="host", code=code)
        self.unavailable = unavailable

    @property
    def words(self) -> str:
        return self.cause if not self.advice or self.advice in self.cause else f"{self.cause}. What to do: {self.advice}"


def host_error(exc: grpc.aio.AioRpcError) -> HostError:
    trailing = dict(exc.trailing_metadata() or ())
    return HostError(exc.details() or exc.code().name, trailing.get("twinforge-advice", ""),
                     unavailable=exc.code() == grpc.StatusCode.UNAVAILABLE, code=trailing.get("twinforge-error-code", "") or "host_refused")


class HostClient:
    def __init__(self, address: str, max_message_bytes: int, chunk_bytes: int, channel_settings: Settings | None = None) -> None:
        """`channel_settings` carries the tls_* settings of the channel to the host; None takes the process's."""
        limit = max_message_bytes + 1024 * 1024
        self.options = [("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)]
        self.channel = host_channel_aio(address, channel_settings or get_settings(), self.options)
        self.stub = host_grpc.HostServiceStub(self.channel)
        self.chunk_bytes = chunk_bytes

    async def close(self) -> None:
        await self.channel.close()

    async def _call(self, method: str, request):
        try:
            return await getattr(self.stub, method)(request, timeout=TIMEOUT_S, metadata=acting.metadata())
        except grpc.aio.AioRpcError as exc:
            raise host_error(exc) from None

    async def create_avatar(self, name: str, owner: str) -> host_pb.Avatar:
        return (await self._call("CreateAvatar", host_pb.CreateAvatarRequest(name=name, owner=owner))).avatar

    async def avatar(self, avatar_id: str) -> host_pb.Avatar:
        return (await self._call("GetAvatar", host_pb.GetAvatarRequest(avatar_id=avatar_id))).avatar

    async def avatars(self, owner: str) -> list[host_pb.Avatar]:
        return list((await self._call("ListAvatars", host_pb.ListAvatarsRequest(owner=owner))).avatars)

    async def upload(self, avatar_id: str, kind: str, filename: str, chunks: AsyncIterable[bytes]) -> plugin_pb.ArtifactRef:
        """Streams a file (a `video`, a `background_image`) to storage as it arrives, re-cut to the
        host's chunk size."""

        async def parts() -> AsyncIterator[host_pb.UploadArtifactRequest]:
            yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind=kind, filename=filename))
            buffer = b""
            async for chunk in chunks:
                buffer += chunk
                while len(buffer) >= self.chunk_bytes:
                    yield host_pb.UploadArtifactRequest(chunk=buffer[: self.chunk_bytes])
                    buffer = buffer[self.chunk_bytes :]
            if buffer:
                yield host_pb.UploadArtifactRequest(chunk=buffer)

        try:
            return (await self.stub.UploadArtifact(parts(), timeout=RENDER_TIMEOUT_S, metadata=acting.metadata())).artifact
        except grpc.aio.AioRpcError as exc:
            raise host_error(exc) from None

    async def submit(self, avatar_id: str, video: plugin_pb.ArtifactRef) -> host_pb.CreateSubmissionResponse:
        return await self._call("CreateSubmission", host_pb.CreateSubmissionRequest(avatar_id=avatar_id, video=video))

    async def runs(self, avatar_id: str) -> list[host_pb.StageRun]:
        return list((await self._call("ListStageRuns", host_pb.ListStageRunsRequest(avatar_id=avatar_id))).runs)

    async def cancel(self, run_id: str, reason: str) -> host_pb.StageRun:
        return (await self._call("CancelStageRun", host_pb.CancelStageRunRequest(run_id=run_id, reason=reason))).run

    async def watch(self, avatar_id: str, after_seq: int) -> AsyncIterator[host_pb.Notification]:
        """Every notification of the avatar after `after_seq`, then new ones as they come."""
        try:
            request = host_pb.WatchNotificationsRequest(avatar_id=avatar_id, after_seq=after_seq)
            async for reply in self.stub.WatchNotifications(request, metadata=acting.metadata()):
                yield reply.notification
        except grpc.aio.AioRpcError as exc:
            raise host_error(exc) from None

    async def download(self, key: str) -> bytes:
        try:
            return b"".join([reply.chunk async for reply in self.stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=key), timeout=RENDER_TIMEOUT_S, metadata=acting.metadata())])
        except grpc.aio.AioRpcError as exc:
            raise host_error(exc) from None

    async def download_to(self, key: str, path: Path) -> Path:
        """The artifact written to `path` as it arrives: a person's video is never held whole in memory."""
        try:
            with path.open("wb") as out:
                async for reply in self.stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=key), timeout=RENDER_TIMEOUT_S, metadata=acting.metadata()):
                    out.write(reply.chunk)
        except grpc.aio.AioRpcError as exc:
            raise host_error(exc) from None
        return path

    async def material_versions(self, avatar_id: str) -> list[host_pb.MaterialVersion]:
        return list((await self._call("ListMaterialVersions", host_pb.ListMaterialVersionsRequest(avatar_id=avatar_id))).versions)

    async def edit_materials(self, avatar_id: str, by: str, operation: str, arguments: dict,
                             background_image: plugin_pb.ArtifactRef | None = None) -> host_pb.EditMaterialsResponse:
        return await self._call("EditMaterials", host_pb.EditMaterialsRequest(
            avatar_id=avatar_id, operation=operation, parameters_json=json.dumps(arguments), by=by, background_image=background_image))

    async def revert_materials(self, avatar_id: str, by: str, version: int) -> host_pb.RevertMaterialsResponse:
        return await self._call("RevertMaterials", host_pb.RevertMaterialsRequest(avatar_id=avatar_id, version=version, by=by))

    async def approve(self, avatar_id: str, by: str) -> host_pb.ApproveAvatarResponse:
        return await self._call("ApproveAvatar", host_pb.ApproveAvatarRequest(avatar_id=avatar_id, by=by))

    async def reject(self, avatar_id: str, by: str, reason: str, text: str = "") -> host_pb.RejectAvatarResponse:
        return await self._call("RejectAvatar", host_pb.RejectAvatarRequest(avatar_id=avatar_id, by=by, reason=reason, text=text))

    async def rounds(self, avatar_id: str) -> host_pb.ListRoundsResponse:
        """Every review round of the avatar, oldest first, and whether (and why not) it may be deployed."""
        return await self._call("ListRounds", host_pb.ListRoundsRequest(avatar_id=avatar_id))

    async def deploy(self, avatar_id: str, by: str, target: str = "local") -> host_pb.StageRun:
        return (await self._call("Deploy", host_pb.DeployRequest(avatar_id=avatar_id, target=target, by=by))).run

    async def delete_avatar(self, avatar_id: str, by: str, cancel_running: bool) -> host_pb.DeleteAvatarResponse:
        request = host_pb.DeleteAvatarRequest(avatar_id=avatar_id, by=by, cancel_running=cancel_running)
        return await self._call("DeleteAvatar", request)

    async def undeploy(self, avatar_id: str, by: str) -> host_pb.StageRun:
        return (await self._call("Undeploy", host_pb.UndeployRequest(avatar_id=avatar_id, by=by))).run

    async def endpoint(self, avatar_id: str) -> host_pb.GetEndpointResponse:
        return await self._call("GetEndpoint", host_pb.GetEndpointRequest(avatar_id=avatar_id))

    async def render(self, address: str, text: str = "", audio: bytes = b"") -> tuple[bytes, inference_pb.RenderSummary]:
        """The avatar speaking `text` or `audio`, rendered by its live service: the MP4 and its summary."""
        request = inference_pb.RenderRequest(audio=audio) if audio else inference_pb.RenderRequest(text=text)
        video, summary = bytearray(), None
        async with grpc.aio.insecure_channel(address, options=self.options) as channel:
            try:
                async for reply in inference_grpc.InferenceServiceStub(channel).Render(request, timeout=RENDER_TIMEOUT_S):
                    if reply.HasField("chunk"):
                        video += reply.chunk
                    elif reply.HasField("summary"):
                        summary = reply.summary
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAVAILABLE:
                    raise HostError("your avatar's service is not answering (it may have stopped)",
                                    "try again in a minute, deploy it again, or ask the operator", unavailable=True) from None
                raise host_error(exc) from None
        if summary is None:
            raise HostError("the service ended the render without a video", "try again")
        return bytes(video), summary


def payload(notification: host_pb.Notification) -> dict:
    return json.loads(notification.payload_json or "{}")
