"""Routing against a wedged replica: it accepts the Run call but never starts."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from host import registry
from host.errors import Unavailable
from host.routing import open_run
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb
from twinforge.plugin.v1 import plugin_service_pb2_grpc as plugin_grpc


class Wedged(plugin_grpc.PluginServiceServicer):
    async def Run(self, request, context):
        await asyncio.sleep(3600)
        yield plugin_pb.RunResponse()


async def test_a_replica_that_never_starts_is_given_up_after_the_start_timeout(runtime):
    server = grpc.aio.server()
    plugin_grpc.add_PluginServiceServicer_to_server(Wedged(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        description = plugin_pb.DescribeResponse(name="wedged", version="1", stages=["wedge"])
        await asyncio.to_thread(registry.register, f"127.0.0.1:{port}", description)
        request = plugin_pb.RunRequest(avatar_id="a", stage="wedge", run_id="r", attempt=1)
        started = time.monotonic()
        with pytest.raises(Unavailable) as info:
            await asyncio.to_thread(open_run, request, 60, lambda: 0, 4 * 1024 * 1024, 1.0)
        assert time.monotonic() - started < 10
        assert "no first event within 1 s" in info.value.cause
    finally:
        await server.stop(0)
