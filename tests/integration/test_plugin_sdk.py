"""A plugin as its own process, the way `twinforge up` and plugin authors run it: it registers with
the host, is probed healthy, and on SIGTERM deregisters and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from host.channels import host_channel_aio
from host.settings import get_settings

from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 15.0


async def probe_plugins(stub) -> list[host_pb.PluginInfo]:
    return list((await stub.ListPlugins(host_pb.ListPluginsRequest(stage="probe"))).plugins)


async def test_plugin_process_registers_and_deregisters_on_sigterm(host, tmp_path):
    # The settings and host fixtures exported TWINFORGE_* (data dir, Redis, host address).
    assert os.environ["TWINFORGE_HOST_ADDRESS"] == host
    log = (tmp_path / "probe.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "plugins.probe.server"], cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        async with host_channel_aio(host, get_settings()) as channel:
            stub = host_grpc.HostServiceStub(channel)
            deadline = time.monotonic() + TIMEOUT_S
            while not any(p.health == host_pb.PLUGIN_HEALTH_HEALTHY for p in await probe_plugins(stub)):
                assert process.poll() is None, f"the plugin exited early: {(tmp_path / 'probe.log').read_text()}"
                assert time.monotonic() < deadline, "the plugin did not show healthy in time"
                await asyncio.sleep(0.1)
            (plugin,) = await probe_plugins(stub)
            assert plugin.description.name == "probe" and list(plugin.description.stages) == ["probe"]

            process.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            code = await asyncio.to_thread(process.wait, 5)
            assert code == 0, (tmp_path / "probe.log").read_text()
            assert time.monotonic() - stopped < 5
            assert await probe_plugins(stub) == [], "the plugin did not deregister on SIGTERM"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
