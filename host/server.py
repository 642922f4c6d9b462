"""The host's gRPC server and its background loops: plugin health, the reactor that starts next
stages, recovery of interrupted or lost runs, queue places, and the deletion of abandoned avatars. One `serve()` builds it; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from host import registry, retention
from host.bootstrap import Runtime, bootstrap
from host.channels import bind
from host.interceptors import HostInterceptor
from host.logs import configure_logging
from host.ports import GRPC_OPTIONS, PortInUse
from host.reactor import run_reactor
from host.servicer import HostServicer
from host.settings import Settings, get_settings
from scheduler.positions import publish_positions
from scheduler.recovery import recover
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

log = logging.getLogger(__name__)

RECOVERY_EVERY_S = 5.0
POSITIONS_EVERY_S = 1.0
SHUTDOWN_GRACE_S = 5.0


async def _every(seconds: float, stop: asyncio.Event, what: str, work: Callable[[], object]) -> None:
    """Runs `work` in a thread every `seconds` until `stop`; a failed pass is logged and the next one runs."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(work)
        except Exception:
            log.exception("%s pass failed", what)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


async def start(runtime: Runtime, address: str) -> tuple[grpc.aio.Server, int]:
    limit = runtime.settings.max_message_bytes
    server = grpc.aio.server(
        interceptors=[HostInterceptor(runtime.settings.registration_token)],
        options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit), *GRPC_OPTIONS],
    )
    host_grpc.add_HostServiceServicer_to_server(HostServicer(runtime), server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = bind(server, address, runtime.settings)
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, port


@contextlib.asynccontextmanager
async def running_host(runtime: Runtime, address: str):
    """The host with its background loops, for `serve` and for tests; yields the bound port."""
    server, port = await start(runtime, address)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(registry.monitor(
                runtime.settings.heartbeat_interval_s, runtime.settings.plugin_down_after_s, runtime.settings.plugin_forget_after_s, stop
            )),
        asyncio.create_task(_every(RECOVERY_EVERY_S, stop, "recovery", lambda: recover(runtime))),
        # tells each waiting person their place in the queue as it moves
        asyncio.create_task(_every(POSITIONS_EVERY_S, stop, "queue positions", lambda: publish_positions(runtime))),
        asyncio.create_task(_every(retention.EVERY_S, stop, "retention", lambda: retention.sweep(runtime))),
        asyncio.create_task(run_reactor(runtime)),
    ]
    try:
        yield port
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop(SHUTDOWN_GRACE_S)


async def serve(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    runtime = bootstrap(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running_host(runtime, settings.host_address):
        await stop.wait()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except PortInUse as exc:
        sys.exit(f"cannot start the host: {exc}")


if __name__ == "__main__":
    main()
