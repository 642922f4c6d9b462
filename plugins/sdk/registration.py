"""Keeps a plugin registered with the host: registers (retrying while the host is away), heartbeats,
registers again when the host has forgotten it, and deregisters on shutdown."""

from __future__ import annotations

import asyncio
import logging

import grpc

from host.channels import host_channel_aio
from host.channels import TOKEN_HEADER
from host.settings import Settings
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

log = logging.getLogger(__name__)

RETRY_S = 2.0
CALL_TIMEOUT_S = 10.0


class Registration:
    def __init__(self, host_address: str, own_address: str, token: str, channel_settings: Settings | None = None) -> None:
        """`channel_settings` carries the tls_* settings of the channel to the host; None speaks plaintext."""
        self.host_address = host_address
        self.channel_settings = channel_settings
        self.own_address = own_address
        self.metadata = ((TOKEN_HEADER, token),)
        self.plugin_id = ""
        self.registered = asyncio.Event()

    def _channel(self) -> grpc.aio.Channel:
        if self.channel_settings is None:
            return grpc.aio.insecure_channel(self.host_address)
        return host_channel_aio(self.host_address, self.channel_settings)

    async def keep(self, stop: asyncio.Event) -> None:
        """Runs until `stop` is set: register, then heartbeat at the interval the host asks for."""
        async with self._channel() as channel:
            stub = host_grpc.HostServiceStub(channel)
            interval = RETRY_S
            while not stop.is_set():
                try:
                    if not self.plugin_id:
                        reply = await stub.RegisterPlugin(
                            host_pb.RegisterPluginRequest(address=self.own_address),
                            metadata=self.metadata,
                            timeout=CALL_TIMEOUT_S,
                        )
                        self.plugin_id = reply.plugin.plugin_id
                        interval = reply.heartbeat_interval_seconds or RETRY_S
                        self.registered.set()
                        log.info("registered", extra={"plugin_id": self.plugin_id, "host": self.host_address})
                    else:
                        await stub.Heartbeat(
                            host_pb.HeartbeatRequest(plugin_id=self.plugin_id),
                            metadata=self.metadata,
                            timeout=CALL_TIMEOUT_S,
                        )
                except grpc.aio.AioRpcError as exc:
                    if exc.code() == grpc.StatusCode.NOT_FOUND:
                        self.plugin_id = ""
                        continue
                    if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                        log.error("the host refused the registration token; check TWINFORGE_REGISTRATION_TOKEN")
                    elif exc.code() == grpc.StatusCode.UNAVAILABLE:
                        log.warning("host unreachable; retrying", extra={"error": exc.details()})
                    else:
                        log.error("the host refused the registration; retrying", extra={"error": exc.details()})
                    interval = RETRY_S
                try:
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                except asyncio.TimeoutError:
                    pass

    async def deregister(self) -> None:
        if not self.plugin_id:
            return
        async with self._channel() as channel:
            try:
                await host_grpc.HostServiceStub(channel).DeregisterPlugin(
                    host_pb.DeregisterPluginRequest(plugin_id=self.plugin_id),
                    metadata=self.metadata,
                    timeout=CALL_TIMEOUT_S,
                )
            except grpc.aio.AioRpcError as exc:
                log.warning("deregistration failed", extra={"error": exc.code().name})
