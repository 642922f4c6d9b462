"""Server interceptors: the registration token on plugin RPCs, the API key on every other RPC
(host/auth.py), and TwinforgeError -> gRPC status.

Errors travel as the status's details (a sentence a person can read) plus trailing metadata with
the machine-readable code, the stage and the advice, so clients can show each part.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

import grpc
from google.protobuf.message import DecodeError

from host import auth
from host.channels import TOKEN_HEADER
from host.errors import InvalidArgument, TwinforgeError, Unauthenticated

log = logging.getLogger(__name__)

PLUGIN_METHODS = frozenset(
    f"/twinforge.host.v1.HostService/{name}" for name in ("RegisterPlugin", "Heartbeat", "DeregisterPlugin")
)
HEALTH_PREFIX = "/grpc.health.v1.Health/"  # probes of load balancers and of `twinforge up` carry no key


MAX_TEXT_BYTES = 1024


def bounded(text: str) -> str:
    """Errors quote what the caller sent, which can be megabytes; past the client's metadata limit
    (8 to 16 KB) gRPC drops the whole status and the person sees no cause at all."""
    raw = text.encode()
    return text if len(raw) <= MAX_TEXT_BYTES else raw[:MAX_TEXT_BYTES].decode(errors="ignore") + "..."


def metadata_text(value: str) -> str:
    """gRPC refuses a metadata value outside printable ASCII and turns the whole answer into
    INTERNAL; advice and stage may quote what the caller sent, so the rest is escaped."""
    return bounded("".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii") for c in value))


async def abort_with(context: grpc.aio.ServicerContext, error: TwinforgeError) -> None:
    context.set_trailing_metadata(
        tuple(
            (key, metadata_text(value))
            for key, value in (("twinforge-error-code", error.code), ("twinforge-stage", error.stage), ("twinforge-advice", error.advice))
        )
    )
    await context.abort(error.status, bounded(str(error)))


class Malformed:
    """A request whose bytes are not a message of its RPC. gRPC answers UNKNOWN when a deserializer
    raises, so parsing hands this to the handler instead, which refuses it as INVALID_ARGUMENT."""

    def __init__(self, error: DecodeError) -> None:
        self.error = error


def _lenient(deserializer: Callable[[bytes], object] | None) -> Callable[[bytes], object] | None:
    if deserializer is None:
        return None

    def parse(raw: bytes) -> object:
        try:
            return deserializer(raw)
        except DecodeError as exc:
            return Malformed(exc)

    return parse


def _parsed(request: object) -> object:
    if isinstance(request, Malformed):
        raise InvalidArgument(
            code="malformed_request",
            cause=f"the request is not a valid message of this RPC ({request.error})",
            advice="send it with a client generated from proto/twinforge/host/v1",
        )
    return request


async def _each_parsed(request_iterator):
    async for request in request_iterator:
        yield _parsed(request)


def _wrap(handler: grpc.RpcMethodHandler, guard: Callable[[grpc.aio.ServicerContext], Awaitable[None]]) -> grpc.RpcMethodHandler:
    """Rebuilds a handler so that its behaviour runs after `guard` and maps TwinforgeError."""
    if handler.unary_unary:

        async def unary_unary(request, context):
            await guard(context)
            try:
                return await handler.unary_unary(_parsed(request), context)
            except TwinforgeError as exc:
                await abort_with(context, exc)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, _lenient(handler.request_deserializer), handler.response_serializer
        )
    if handler.unary_stream:

        async def unary_stream(request, context):
            await guard(context)
            try:
                async for item in handler.unary_stream(_parsed(request), context):
                    yield item
            except TwinforgeError as exc:
                await abort_with(context, exc)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, _lenient(handler.request_deserializer), handler.response_serializer
        )
    if handler.stream_unary:

        async def stream_unary(request_iterator, context):
            await guard(context)
            try:
                return await handler.stream_unary(_each_parsed(request_iterator), context)
            except TwinforgeError as exc:
                await abort_with(context, exc)

        return grpc.stream_unary_rpc_method_handler(
            stream_unary, _lenient(handler.request_deserializer), handler.response_serializer
        )
    return handler


async def _authenticate(context: grpc.aio.ServicerContext) -> None:
    """Resolves the API key (and whom a service acts for) into the caller the RPC then runs as."""
    metadata = dict(context.invocation_metadata())
    try:
        caller = await asyncio.to_thread(auth.resolve, metadata.get(auth.API_KEY_HEADER, ""), metadata.get(auth.ON_BEHALF_HEADER, ""))
    except TwinforgeError as exc:
        await abort_with(context, exc)
    auth.act_as(caller)


class HostInterceptor(grpc.aio.ServerInterceptor):
    """Checks the registration token on plugin RPCs (constant-time), the API key on every other RPC
    but health probes, and maps domain errors."""

    def __init__(self, registration_token: str) -> None:
        self._token = registration_token.encode()

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        token = self._token

        async def guard(context: grpc.aio.ServicerContext) -> None:
            if method.startswith(HEALTH_PREFIX):
                return
            if method not in PLUGIN_METHODS:
                await _authenticate(context)
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
