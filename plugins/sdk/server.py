"""The plugin's gRPC server: PluginService, the stock health service, registration with the host,
and a clean shutdown on SIGTERM (stop taking runs, let running ones finish within the grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import jsonschema
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from host.errors import TwinforgeError
from host.logs import configure_logging
from host.ports import GRPC_OPTIONS, PortInUse, add_port
from host.settings import Settings, get_settings
from host.storage.backends import open_blob_store
from host.storage.blobs import BlobStore, disk_full_as_unavailable
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.errors import Cancelled, StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.registration import Registration
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb
from twinforge.plugin.v1 import plugin_service_pb2_grpc as plugin_grpc

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10.0
_DONE = object()


def _failed(code: str, message: str, advice: str, ctx: RunContext | None = None) -> plugin_pb.RunResponse:
    """A failed Result; with the run's context it keeps what the run produced (a report, its summary)."""
    return plugin_pb.RunResponse(
        result=plugin_pb.Result(
            status=plugin_pb.RESULT_STATUS_FAILED,
            error=plugin_pb.StageError(code=code, message=message, advice=advice),
            outputs=ctx.outputs if ctx is not None else [],
            summary_json=json.dumps(ctx.summary, sort_keys=True, default=str) if ctx is not None and ctx.summary else "",
        )
    )


class PluginServicer(plugin_grpc.PluginServiceServicer):
    def __init__(self, plugin: Plugin, blobs: BlobStore, scratch: Path | None = None) -> None:
        self.plugin = plugin
        self.blobs = blobs
        self.scratch = scratch

    async def Describe(self, request: plugin_pb.DescribeRequest, context: grpc.aio.ServicerContext) -> plugin_pb.DescribeResponse:
        return self.plugin.describe()

    async def Run(self, request: plugin_pb.RunRequest, context: grpc.aio.ServicerContext):
        yield plugin_pb.RunResponse(progress=plugin_pb.Progress(fraction=0.0, message="started", eta_seconds=-1))
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        cancelled = threading.Event()

        def emit(event: object) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        loop.run_in_executor(None, self._execute, request, emit, cancelled)
        try:
            while True:
                event = await events.get()
                if event is _DONE:
                    return
                yield event
        finally:
            # Leaving early means the caller cancelled: the plugin stops at its next report.
            cancelled.set()

    def _execute(self, request: plugin_pb.RunRequest, emit, cancelled: threading.Event) -> None:
        try:
            emit(self._outcome(request, emit, cancelled))
        finally:
            emit(_DONE)

    def _outcome(self, request: plugin_pb.RunRequest, emit, cancelled: threading.Event) -> plugin_pb.RunResponse:
        """Runs the plugin in a scratch directory and turns how it ended into the run's Result."""
        try:
            parameters = json.loads(request.parameters_json or "{}")
            jsonschema.validate(parameters, self.plugin.parameters_schema)
        except (ValueError, jsonschema.ValidationError) as exc:
            message = exc.message if isinstance(exc, jsonschema.ValidationError) else str(exc)
            return _failed("bad_parameters", f"the stage parameters are invalid: {message}", "fix the parameters and submit the stage again")
        with tempfile.TemporaryDirectory(prefix=f"{request.stage}-", dir=self.scratch) as tmp:
            workdir = Path(tmp)
            ctx = None
            try:
                with disk_full_as_unavailable(workdir, "the stage's working files were not written"):
                    ctx = RunContext(
                        avatar_id=request.avatar_id,
                        stage=request.stage,
                        run_id=request.run_id,
                        attempt=request.attempt,
                        parameters=parameters,
                        workdir=workdir,
                        inputs=self._fetch_inputs(request, workdir),
                        resume_checkpoint=self._fetch_checkpoint(request, workdir),
                        blobs=self.blobs,
                        emit=emit,
                        cancelled=cancelled,
                    )
                    self.plugin.run(ctx)
            except StageFailed as exc:
                return _failed(exc.code, exc.message, exc.advice, ctx)
            except Cancelled:
                return plugin_pb.RunResponse(result=plugin_pb.Result(status=plugin_pb.RESULT_STATUS_CANCELLED))
            except TwinforgeError as exc:
                return _failed(exc.code, exc.cause, exc.advice)
            except Exception as exc:
                log.exception("plugin run crashed", extra={"run_id": request.run_id})
                return _failed(
                    "plugin_error",
                    f"{self.plugin.name} failed: {type(exc).__name__}: {exc}",
                    "retry the stage; if it fails again, report it with this message",
                )
        status = plugin_pb.RESULT_STATUS_WAITING_FOR_USER if ctx.waiting_for_user else plugin_pb.RESULT_STATUS_SUCCEEDED
        return plugin_pb.RunResponse(
            result=plugin_pb.Result(status=status, outputs=ctx.outputs, summary_json=json.dumps(ctx.summary, sort_keys=True, default=str))
        )

    def _fetch_inputs(self, request: plugin_pb.RunRequest, workdir: Path) -> list[LocalInput]:
        inputs_dir = workdir / "inputs"
        inputs_dir.mkdir()
        fetched = []
        for index, ref in enumerate(request.inputs):
            path = inputs_dir / f"{index:03d}-{ref.name or 'input'}"
            self.blobs.get_file(ref.key, path, ref.sha256 or None)
            fetched.append(LocalInput(ref=ref, path=path))
        return fetched

    def _fetch_checkpoint(self, request: plugin_pb.RunRequest, workdir: Path) -> Path | None:
        if not request.HasField("resume_checkpoint") or not request.resume_checkpoint.key:
            return None
        path = workdir / "resume-checkpoint"
        self.blobs.get_file(request.resume_checkpoint.key, path, request.resume_checkpoint.sha256 or None)
        return path


async def start(plugin: Plugin, settings: Settings, port: int = 0) -> tuple[grpc.aio.Server, health_aio.HealthServicer, str]:
    """Builds and starts the server; returns it with its health servicer and its address."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            *GRPC_OPTIONS,
        ]
    )
    plugin_grpc.add_PluginServiceServicer_to_server(
        PluginServicer(
            plugin,
            open_blob_store(
                settings.resolved_storage_url, settings.storage_retries, settings.storage_retry_backoff_s, settings.storage_timeout_s
            ),
        ),
        server,
    )
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    bound = add_port(server, f"{settings.plugin_host}:{port}", f"the {plugin.name} plugin", "TWINFORGE_PLUGIN_PORT")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await health.set("twinforge.plugin.v1.PluginService", health_pb2.HealthCheckResponse.SERVING)
    return server, health, f"{settings.plugin_host}:{bound}"


@contextlib.asynccontextmanager
async def running_plugin(plugin: Plugin, settings: Settings, port: int = 0) -> AsyncIterator[str]:
    """The plugin serving and registered with the host; on exit it reports NOT_SERVING, deregisters
    and lets running calls finish within the grace period. Yields its address."""
    server, health, address = await start(plugin, settings, port)
    registration = Registration(settings.host_address, address, settings.registration_token, settings)
    stop = asyncio.Event()
    keeper = asyncio.create_task(registration.keep(stop))
    try:
        yield address
    finally:
        await health.enter_graceful_shutdown()
        stop.set()
        await keeper
        await registration.deregister()
        await server.stop(SHUTDOWN_GRACE_S)


async def serve(plugin: Plugin, settings: Settings | None = None, port: int = 0) -> None:
    """Serves until SIGTERM or SIGINT."""
    settings = settings or get_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running_plugin(plugin, settings, port):
        await stop.wait()


def main(plugin: Plugin) -> None:
    """The entry point of a plugin process: `python -m plugins.<name>.server`."""
    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(plugin, settings, settings.plugin_port))
    except PortInUse as exc:
        sys.exit(f"cannot start the {plugin.name} plugin: {exc}")
