"""How the `twinforge` command's verbs reach the running host: one channel per call, its failures
turned into the command's exit codes and words (the host's advice included)."""

from __future__ import annotations

import getpass

import click
import grpc

from host.channels import host_channel
from host.errors import TwinforgeError
from host.settings import get_settings
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

EXIT_UNAVAILABLE = 3


def host_stub() -> tuple[grpc.Channel, host_grpc.HostServiceStub]:
    settings = get_settings()
    try:
        channel = host_channel(settings.host_address, settings)
    except TwinforgeError as exc:
        raise click.ClickException(str(exc)) from None
    return channel, host_grpc.HostServiceStub(channel)


def rpc_failed(exc: grpc.RpcError) -> click.ClickException:
    advice = dict(exc.trailing_metadata() or ()).get("twinforge-advice", "")
    if exc.code() == grpc.StatusCode.UNAVAILABLE and not advice:
        advice = f"is the host running at {get_settings().host_address}? Start it with `twinforge up`"
    error = click.ClickException(f"{exc.details()}" + (f"\n  advice: {advice}" if advice and advice not in (exc.details() or "") else ""))
    error.exit_code = EXIT_UNAVAILABLE if exc.code() == grpc.StatusCode.UNAVAILABLE else 1
    return error


def default_by() -> str:
    return f"cli:{getpass.getuser()}"


def host_call(method: str, request):
    channel, stub = host_stub()
    try:
        return getattr(stub, method)(request, timeout=30)
    except grpc.RpcError as exc:
        raise rpc_failed(exc) from None
    finally:
        channel.close()
