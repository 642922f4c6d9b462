"""Server interceptors: the registration token on plugin RPCs, and TwinforgeError -> gRPC status.

Errors travel as the status's details (a sentence a person can read) plus trailing metadata with
the machine-readable code, the stage and the advice, so clients can show each part.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

import grpc

from host.errors import TwinforgeError, Unauthenticated

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-twinforge-registration-token"
PLUGIN_METHODS = frozenset(
    f"/twinforge.host.v1.HostService/{name}" for name in ("RegisterPlugin", "Heartbeat", "DeregisterPlugin")
)


async def abort_with(context: grpc.aio.ServicerContext, error: TwinforgeError) -> None:
    context.set_trailing_metadata(
        (("twinforge-error-code", error.code), ("twinforge-stage", error.stage), ("twinforge-advice", error.advice))
    )
    await context.abort(error.status, str(error))


def _wrap(handler: grpc.RpcMethodHandler, guard: Callable[[grpc.aio.ServicerContext], Awaitable[None]]) -> grpc.RpcMethodHandler:
    """Rebuilds a handler so that its behaviour runs after `guard` and maps TwinforgeError."""
    if handler.unary_unary:

        async def unary_unary(request, context):
            await guard(context)
            try:
                return await handler.unary_unary(request, context)
            except TwinforgeError as exc:
                await abort_with(context, exc)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream:

        async def unary_stream(request, context):
            await guard(context)
            try:
                async for item in handler.unary_stream(request, context):
                    yield item
            except TwinforgeError as exc:
                await abort_with(context, exc)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary:

        async def stream_unary(request_iterator, context):
            await guard(context)
            try:
                return await handler.stream_unary(request_iterator, context)
            except TwinforgeError as exc:
                await abort_with(context, exc)

        return grpc.stream_unary_rpc_method_handler(
            stream_unary, handler.request_deserializer, handler.response_serializer
        )
    return handler


class HostInterceptor(grpc.aio.ServerInterceptor):
    """Checks the registration token on plugin RPCs (constant-time) and maps domain errors."""

    def __init__(self, registration_token: str) -> None:
        self._token = registration_token.encode()

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        token = self._token

        async def guard(context: grpc.aio.ServicerContext) -> None:
            if method not in PLUGIN_METHODS:
                return
            given = dict(context.invocation_metadata()).get(TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode() if isinstance(given, str) else given, token):
                await abort_with(
                    context,
                    Unauthenticated(
                        code="bad_registration_token",
                        cause="the registration token is missing or wrong",
                        advice=f"send the host's token in the {TOKEN_HEADER!r} metadata (TWINFORGE_REGISTRATION_TOKEN)",
                    ),
                )

        return _wrap(handler, guard)
