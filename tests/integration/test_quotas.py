"""What one person may use, through the host's API: avatars kept, stages waiting or running at once,
videos trained a day (host/quotas.py). Each refusal names the bound and what to do; another person
is not held back by the first one's use; deleting an avatar frees its place."""

from __future__ import annotations

import grpc
import pytest

from host.flow import Flow
from tests.fixtures.media import write_test_video
from tests.integration.test_scheduler import GpuSleeper, Sleeper, platform
from tests.integration.test_training_loop import upload
from twinforge.host.v1 import host_service_pb2 as host_pb


async def refused(call, *arguments) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(*arguments)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    return caught.value.details()


async def test_a_person_is_held_to_their_share_and_told_what_to_do(host, runtime, tmp_path) -> None:
    runtime.flow = Flow(needs={"sleep": ()})  # a submitted video starts one stage, which no worker takes: it stays queued
    runtime.settings = runtime.settings.model_copy(update={"max_avatars_per_person": 2, "max_active_runs_per_person": 3,
                                                           "max_trainings_per_day": 1})
    async with platform(host, Sleeper(), GpuSleeper()) as stub:
        def new(owner: str):
            return stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Q", owner=owner))

        first = (await new("cli:alice")).avatar.avatar_id
        second = (await new("cli:alice")).avatar.avatar_id
        words = await refused(new, "cli:alice")
        assert "cli:alice has 2 avatars, the most one person may keep" in words and "twinforge avatar delete" in words
        assert (await new("cli:bob")).avatar.avatar_id, "another person is not held back"

        video = write_test_video(tmp_path / "take.mp4")
        submit = host_pb.CreateSubmissionRequest(avatar_id=first, video=await upload(stub, first, video, "video"))
        await stub.CreateSubmission(submit)
        later = host_pb.CreateSubmissionRequest(avatar_id=second, video=await upload(stub, second, video, "video"))
        words = await refused(stub.CreateSubmission, later)
        assert "cli:alice submitted 1 videos for training in the last 24 hours" in words and "UTC, when the oldest of them is a day old" in words

        def sleep(avatar_id: str, stage: str = "sleep"):
            return stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id=avatar_id, stage=stage, parameters_json='{"seconds": 60}'))

        await sleep(first, "gpu_sleep")
        await sleep(second)  # with the stage the submitted video started: three of Alice's stages wait
        words = await refused(sleep, second, "gpu_sleep")
        assert "3 stages of cli:alice's avatars are waiting or running, the most one person may have at once" in words
        assert "cancel what you no longer need" in words
        bob = (await stub.ListAvatars(host_pb.ListAvatarsRequest(owner="cli:bob"))).avatars[0].avatar_id
        await sleep(bob)
        await sleep(bob, "gpu_sleep")

        await stub.DeleteAvatar(host_pb.DeleteAvatarRequest(avatar_id=second, cancel_running=True, by="cli:alice"))
        assert (await new("cli:alice")).avatar.avatar_id, "a deleted avatar frees its place"
