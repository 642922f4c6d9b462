"""The inference service process: `python -m plugins.inference.server [--bundle DIR] [--grpc-port N]
[--http-port N] [--host H] [--ready-file PATH]`.

The bundle is read (every file's sha256 checked) and the graph loaded before anything listens, so
a port that answers belongs to a service that can render; a damaged bundle ends the process with
exit code 1 and says why. Then gRPC (InferenceService and grpc.health.v1, SERVING) and HTTP start,
and where they listen is printed as one JSON line on stdout and written to --ready-file:
{"grpc": "host:port", "http": "host:port", "pid": N, "avatar_id", "live_sessions": the most live
conversations it holds} (port 0 picks a free port: read them there).
SIGTERM or SIGINT: health turns NOT_SERVING, HTTP stops, live conversations are closed, running
calls get SHUTDOWN_GRACE_S to finish, and the ports are free when the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
from pathlib import Path

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from host.logs import configure_logging
from host.ports import GRPC_OPTIONS, PortInUse, add_port, ensure_free
from host.settings import Settings, get_settings
from plugins.inference.avatar import Avatar
from plugins.inference.brain import Brain
from plugins.inference.http_app import InferenceHTTPServer
from plugins.inference.live import LiveSessions
from plugins.inference.metrics import Metrics
from plugins.inference.service import InferenceServicer
from plugins.sdk.errors import StageFailed
from twinforge.inference.v1 import inference_service_pb2_grpc as inference_grpc

GRPC_PORT = 50070
HTTP_PORT = 8080
SHUTDOWN_GRACE_S = 10.0
SERVICE_NAME = "twinforge.inference.v1.InferenceService"


def write_ready(path: Path, ready: dict) -> None:
    """Written whole, then renamed: a reader never sees half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(ready))
    partial.replace(path)


def brain_of(settings: Settings) -> Brain:
    return Brain(settings.brain_url, settings.brain_model, settings.brain_api_key.get_secret_value(), settings.brain_prompt, settings.brain_timeout_s)


async def serve(avatar: Avatar, host: str, grpc_port: int, http_port: int, max_request_bytes: int, ready_file: Path | None,
                settings: Settings | None = None) -> None:
    """Serves until SIGTERM or SIGINT."""
    settings = settings or get_settings()
    ensure_free("the inference service's HTTP API", f"{host}:{http_port}", "--http-port")
    server = grpc.aio.server(
        options=[("grpc.max_receive_message_length", max_request_bytes), ("grpc.max_send_message_length", max_request_bytes), *GRPC_OPTIONS]
    )
    inference_grpc.add_InferenceServiceServicer_to_server(InferenceServicer(avatar, max_request_bytes), server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    bound = add_port(server, f"{host}:{grpc_port}", "the inference service", "--grpc-port")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    live = LiveSessions(avatar, settings.live_sessions, brain_of(settings), asyncio.get_running_loop(), ice_servers=settings.ice_servers())
    web = InferenceHTTPServer((host, http_port), avatar, max_request_bytes, live=live)
    web_thread = threading.Thread(target=web.serve_forever, name="http", daemon=True)
    web_thread.start()
    web.serving.set()

    ready = {"grpc": f"{host}:{bound}", "http": f"{host}:{web.server_address[1]}", "pid": os.getpid(), "avatar_id": avatar.bundle.avatar_id,
             "live_sessions": live.limit}
    if ready_file is not None:
        write_ready(ready_file, ready)
    print(json.dumps(ready), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    web.serving.clear()
    await health.enter_graceful_shutdown()
    await asyncio.to_thread(web.shutdown)
    web.server_close()
    await live.close_all()
    await server.stop(SHUTDOWN_GRACE_S)


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m plugins.inference.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=settings.bundle or None, help="The avatar's bundle folder (default: TWINFORGE_BUNDLE).")
    parser.add_argument("--host", default=settings.inference_host, help="Interface to listen on (default: TWINFORGE_INFERENCE_HOST).")
    parser.add_argument("--grpc-port", type=int, default=GRPC_PORT, help=f"gRPC port, 0 for a free one (default {GRPC_PORT}).")
    parser.add_argument("--http-port", type=int, default=HTTP_PORT, help=f"HTTP port, 0 for a free one (default {HTTP_PORT}).")
    parser.add_argument("--ready-file", type=Path, help="Where to write the addresses as JSON once serving.")
    args = parser.parse_args(argv)
    if args.bundle is None:
        parser.error("name the avatar's bundle with --bundle DIR or TWINFORGE_BUNDLE")
    configure_logging(settings.log_level)
    try:
        avatar = Avatar.load(args.bundle, Metrics(), settings.tts_engine, encoder=settings.render_encoder)
    except StageFailed as exc:
        print(f"cannot serve the avatar: {exc.message}\n  advice: {exc.advice}", file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(avatar, args.host, args.grpc_port, args.http_port, settings.max_message_bytes, args.ready_file, settings))
    except PortInUse as exc:
        print(f"cannot serve the avatar: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
