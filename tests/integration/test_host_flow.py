"""A stage's whole path over real gRPC on loopback: upload, submission, queue, routing to the probe
plugin, streamed events recorded as notifications, and the reactor starting the next stage."""

from __future__ import annotations

import asyncio
import contextlib
import json

import grpc
import pytest

from host.flow import Flow
from host.storage import models
from host.channels import host_channel_aio
from host.settings import get_settings
from scheduler import jobs
from plugins.probe.server import Probe
from tests.fixtures.media import write_test_video
from tests.fixtures.services import start_plugin
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc


async def upload(stub, avatar_id: str, path, chunk: int = 4096):
    async def parts():
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind="video", filename="../../etc/passwd.mp4"))
        data = path.read_bytes()
        for i in range(0, len(data), chunk):
            yield host_pb.UploadArtifactRequest(chunk=data[i : i + chunk])

    return (await stub.UploadArtifact(parts())).artifact


async def wait_registered(stub, stage: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.1)):
        reply = await stub.ListPlugins(host_pb.ListPluginsRequest(stage=stage))
        if any(p.health == host_pb.PLUGIN_HEALTH_HEALTHY for p in reply.plugins):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no healthy plugin for {stage} registered in {timeout} s")


async def test_submission_runs_probe_and_records_events(host, runtime, tmp_path):
    runtime.flow = Flow(needs={"probe": ()})  # the default flow starts with video_analysis
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(Probe(), stack)
        await wait_registered(stub, "probe")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Anna", owner="cli:anna"))).avatar
        video = await upload(stub, avatar.avatar_id, write_test_video(tmp_path / "v.mp4"))
        assert video.key.startswith(f"avatars/{avatar.avatar_id}/uploads/") and "passwd" not in video.key

        reply = await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar.avatar_id, video=video))
        assert reply.submission.version == 1
        (run,) = reply.started
        assert run.stage == "probe" and run.state == host_pb.STAGE_STATE_QUEUED

        assert await asyncio.to_thread(jobs.run_stage, run.run_id) == "succeeded"

        runs = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar.avatar_id))).runs
        assert runs[0].state == host_pb.STAGE_STATE_SUCCEEDED
        (report,) = runs[0].outputs
        facts = json.loads(runs[0].summary_json)
        assert facts["streams"][0]["type"] == "video" and facts["streams"][0]["width"] == 64
        assert any(s["type"] == "audio" for s in facts["streams"])

        data = b"".join([r.chunk async for r in stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=report.key))])
        assert json.loads(data) == facts

        kinds = []
        async for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar.avatar_id)):
            kinds.append(reply.notification.kind)
            assert reply.notification.seq == len(kinds)
            if reply.notification.kind == "stage_succeeded":
                break
        assert kinds[:3] == ["avatar_created", "artifact_uploaded", "submission_created"]
        assert kinds[3:5] == ["stage_queued", "stage_running"]
        assert "stage_progress" in kinds and "stage_artifact" in kinds


async def test_next_stage_starts_when_one_succeeds(host, runtime, tmp_path):
    runtime.flow = Flow(needs={"probe": (), "probe_again": ("probe",)})

    class ProbeAgain(Probe):
        name = "probe_again"
        stages = ("probe_again",)

    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(Probe(), stack)
        await start_plugin(ProbeAgain(), stack)
        await wait_registered(stub, "probe")
        await wait_registered(stub, "probe_again")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Ben", owner="cli:ben"))).avatar
        video = await upload(stub, avatar.avatar_id, write_test_video(tmp_path / "v.mp4"))
        (run,) = (await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar.avatar_id, video=video))).started
        await asyncio.to_thread(jobs.run_stage, run.run_id)
        for _ in range(100):
            runs = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar.avatar_id, stage="probe_again"))).runs
            if runs:
                break
            await asyncio.sleep(0.1)
        (second,) = runs
        assert second.state == host_pb.STAGE_STATE_QUEUED
        assert [i.kind for i in second.inputs] == ["video", "probe_report"]


async def test_an_upload_whose_kind_the_table_cannot_hold_is_refused_before_anything_is_stored(host, runtime, tmp_path):
    async with host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Anna", owner="cli:anna"))).avatar.avatar_id

        async def parts():
            yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar, kind="k" * 65, filename="v.mp4"))
            yield host_pb.UploadArtifactRequest(chunk=b"data")

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.UploadArtifact(parts())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 64 characters" in refused.value.details()
    assert models.Artifact.select().count() == 0
    assert not any(path.is_file() for path in (runtime.settings.resolved_data_dir / "blobs").rglob("*"))
