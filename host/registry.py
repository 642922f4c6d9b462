"""The plugin registry: who serves which stage, at which address, and whether it is alive.

It lives in the database so that queue workers, the CLI and a restarted host all see the same
registry. The host keeps it true: plugins heartbeat, and the host probes each one's grpc.health.v1
service, so a plugin that stops answering is marked down within one probe interval.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from host.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from host.storage import models
from host.storage.models import utcnow
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb
from twinforge.plugin.v1 import plugin_service_pb2_grpc as plugin_grpc

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0


def description_of(row: models.Plugin) -> plugin_pb.DescribeResponse:
    return json_format.Parse(row.description_json, plugin_pb.DescribeResponse())


def register(address: str, description: plugin_pb.DescribeResponse) -> models.Plugin:
    """Registers a replica; the same plugin re-registering at its address (after a restart) keeps
    its id, while another plugin claiming a live replica's address is refused."""
    if not description.name or not description.stages:
        raise InvalidArgument(
            code="bad_description",
            cause=f"the plugin at {address} describes itself without a name or without stages",
            advice="return a name and at least one stage from Describe",
        )
    existing = models.Plugin.get_or_none(models.Plugin.address == address)
    if existing is not None and existing.name != description.name and existing.healthy:
        raise AlreadyExists(
            code="address_taken",
            cause=f"{address} is already registered by the healthy plugin {existing.name!r}",
            advice="stop that plugin or deregister it first, or serve the new plugin on another port",
        )
    now = utcnow()
    fields = {
        "name": description.name,
        "version": description.version,
        "description_json": json_format.MessageToJson(description, preserving_proto_field_name=True),
        "registered_at": now,
        "last_seen": now,
        "healthy": True,
        "last_error": "",
    }
    if existing is None:
        return models.Plugin.create(id=models.new_id(), address=address, **fields)
    models.Plugin.update(**fields).where(models.Plugin.id == existing.id).execute()
    return models.Plugin.get_by_id(existing.id)


def get_plugin(plugin_id: str) -> models.Plugin:
    row = models.Plugin.get_or_none(models.Plugin.id == plugin_id)
    if row is None:
        raise NotFound(
            code="unknown_plugin",
            cause=f"no plugin is registered with id {plugin_id!r}",
            advice="register again (the SDK does this by itself when it sees this error)",
        )
    return row


def heartbeat(plugin_id: str) -> models.Plugin:
    row = get_plugin(plugin_id)
    # Only the health monitor decides health: a plugin that heartbeats but cannot be reached at its
    # address must stay down rather than flap.
    models.Plugin.update(last_seen=utcnow()).where(models.Plugin.id == row.id).execute()
    return models.Plugin.get_by_id(row.id)


def deregister(plugin_id: str) -> None:
    models.Plugin.delete().where(models.Plugin.id == get_plugin(plugin_id).id).execute()


def list_plugins(stage: str = "") -> list[models.Plugin]:
    rows = list(models.Plugin.select().order_by(models.Plugin.name, models.Plugin.address))
    return [r for r in rows if not stage or stage in description_of(r).stages]


def known_stages() -> set[str]:
    return {s for r in models.Plugin.select() for s in description_of(r).stages}


def takes_parameter(stage: str, name: str) -> bool:
    """Whether the plugins serving `stage` declare the parameter `name` in their schema."""
    for row in list_plugins(stage):
        schema = json.loads(description_of(row).parameters_schema_json or "{}")
        if name in schema.get("properties", {}):
            return True
    return False


def needs_gpu(stage: str) -> bool:
    return any(description_of(r).resources.gpus > 0 for r in list_plugins(stage))


def set_health(plugin_id: str, healthy: bool, error: str = "") -> None:
    models.Plugin.update(healthy=healthy, last_error=error).where(models.Plugin.id == plugin_id).execute()


async def describe(address: str) -> plugin_pb.DescribeResponse:
    """Asks a plugin to describe itself; registration trusts only what the plugin itself answers."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            return await plugin_grpc.PluginServiceStub(channel).Describe(
                plugin_pb.DescribeRequest(), timeout=PROBE_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(
                code="plugin_unreachable",
                cause=f"the host could not reach the plugin at {address}: {exc.details()}",
                advice="register with an address the host can reach (host:port of the plugin's gRPC server)",
            ) from exc


async def probe(address: str) -> str:
    """Returns "" when the plugin's health service answers SERVING, else why not."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=PROBE_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as exc:
            return f"health check failed: {exc.code().name} {exc.details() or ''}".strip()
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"health status {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return ""


def forget_dead(forget_after_s: float) -> int:
    """Drops replicas that have been silent for long: a plugin that moved to another port would
    otherwise be listed as down forever."""
    cutoff = utcnow() - dt.timedelta(seconds=forget_after_s)
    return models.Plugin.delete().where((models.Plugin.healthy == False) & (models.Plugin.last_seen < cutoff)).execute()  # noqa: E712


async def check_all(down_after_s: float, forget_after_s: float = 600.0) -> None:
    """One round of health checks; a silent or failing plugin goes down, a recovered one comes back."""
    await asyncio.to_thread(forget_dead, forget_after_s)
    rows = await asyncio.to_thread(lambda: list(models.Plugin.select()))
    errors = await asyncio.gather(*(probe(r.address) for r in rows))
    stale_before = utcnow() - dt.timedelta(seconds=down_after_s)
    for row, error in zip(rows, errors):
        if not error and row.last_seen < stale_before:
            error = f"no heartbeat for {(utcnow() - row.last_seen).total_seconds():.0f} s"
        healthy = not error
        if healthy != row.healthy or error != row.last_error:
            level = logging.INFO if healthy else logging.WARNING
            log.log(level, "plugin health changed", extra={"plugin": row.name, "address": row.address, "error": error})
            await asyncio.to_thread(set_health, row.id, healthy, error)


async def monitor(interval_s: float, down_after_s: float, forget_after_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await check_all(down_after_s, forget_after_s)
        except Exception:
            log.exception("plugin health round failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except asyncio.TimeoutError:
            pass

