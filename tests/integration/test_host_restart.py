"""A host restart leaves running jobs running and loses no notification: workers write a run's
state and notifications to the database themselves, and followers replay from their cursor."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket


from host.server import running_host
from host.settings import get_settings
from host.channels import host_channel_aio
from scheduler import jobs
from tests.fixtures.services import start_plugin
from tests.integration.test_host_flow import wait_registered
from tests.integration.test_scheduler import Sleeper
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


async def test_a_running_job_survives_a_host_restart_with_every_notification(runtime, monkeypatch):
    address = free_address()
    monkeypatch.setenv("TWINFORGE_HOST_ADDRESS", address)
    get_settings.cache_clear()
    runtime.settings = get_settings()
    async with contextlib.AsyncExitStack() as stack:
        host = contextlib.AsyncExitStack()
        await host.enter_async_context(running_host(runtime, address))
        channel = await stack.enter_async_context(host_channel_aio(address, get_settings()))
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(Sleeper(), stack)
        await wait_registered(stub, "sleep")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Restart", owner="cli:restart"))).avatar
        run = (
            await stub.SubmitStage(
                host_pb.SubmitStageRequest(avatar_id=avatar.avatar_id, stage="sleep", parameters_json=json.dumps({"seconds": 3}))
            )
        ).run
        job = asyncio.create_task(asyncio.to_thread(jobs.run_stage, run.run_id))
        await asyncio.sleep(1.0)
        await host.aclose()

        assert await job == "succeeded"

        async with running_host(runtime, address):
            seqs, kinds = [], []
            async with asyncio.timeout(20):
                async for reply in stub.WatchNotifications(
                    host_pb.WatchNotificationsRequest(avatar_id=avatar.avatar_id), wait_for_ready=True
                ):
                    seqs.append(reply.notification.seq)
                    kinds.append(reply.notification.kind)
                    if reply.notification.kind == "stage_succeeded":
                        break
            assert seqs == list(range(1, len(seqs) + 1))
            assert kinds[:3] == ["avatar_created", "stage_queued", "stage_running"]
            assert kinds.count("stage_succeeded") == 1 and kinds.count("stage_running") == 1
            assert kinds.count("stage_progress") >= 2
            runs = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar.avatar_id), wait_for_ready=True)).runs
            assert [r.state for r in runs] == [host_pb.STAGE_STATE_SUCCEEDED]
