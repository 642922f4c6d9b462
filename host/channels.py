"""gRPC channels to the host and the host's listening port, plaintext or TLS from one place.

Every client of the host (CLI, plugins registering, the bot) builds its channel here, so turning
TLS on is a matter of settings, never of finding each `insecure_channel`. The tls_* settings name
this process's own certificate: the host's server certificate on the host, a client certificate
elsewhere (needed when the host sets tls_client_auth); tls_ca_file is the CA that signs the peer.

The same goes for the API key: every call on a host channel carries it (`api_key`), by client
interceptors, since gRPC sends call credentials only over TLS and one machine speaks plaintext.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple
from pathlib import Path

import grpc

from host.errors import InvalidArgument
from host.ports import add_port
from host.settings import Settings

ChannelOptions = Sequence[tuple[str, object]]
# Read by host/auth.py; defined here so that clients need not import the host's database models.
API_KEY_HEADER = "x-twinforge-api-key"
ON_BEHALF_HEADER = "x-twinforge-on-behalf-of"  # whom a service key (the bot) acts for
TOKEN_HEADER = "x-twinforge-registration-token"  # a plugin proves it may register


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise InvalidArgument(
            code="tls_file_unreadable",
            cause=f"cannot read the {what} at {path}: {exc.strerror or exc}",
            advice=f"point the TWINFORGE_TLS_* setting for the {what} to a readable PEM file, or leave it empty for plaintext gRPC",
        ) from exc


def tls_enabled(settings: Settings) -> bool:
    """Clients speak TLS once they have a CA to trust or a certificate of their own to present."""
    return bool(settings.tls_ca_file or settings.tls_cert_file)


def _own_pair(settings: Settings) -> tuple[bytes, bytes] | None:
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        raise InvalidArgument(
            code="tls_pair_incomplete",
            cause="only one of the TLS certificate and its private key is set",
            advice="set both TWINFORGE_TLS_CERT_FILE and TWINFORGE_TLS_KEY_FILE, or neither",
        )
    if not settings.tls_cert_file:
        return None
    return _read(settings.tls_key_file, "TLS private key"), _read(settings.tls_cert_file, "TLS certificate")


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """What a client presents to the host; None means plaintext. Without a CA file the system's
    roots verify the host, which suits a certificate from a public CA."""
    if not tls_enabled(settings):
        return None
    pair = _own_pair(settings)
    return grpc.ssl_channel_credentials(
        root_certificates=_read(settings.tls_ca_file, "TLS CA bundle") if settings.tls_ca_file else None,
        private_key=pair[0] if pair else None,
        certificate_chain=pair[1] if pair else None,
    )


def api_key(settings: Settings) -> str:
    """The key this process sends: TWINFORGE_API_KEY, else the operator key `twinforge up` left in
    the data directory when this process may read it (one machine needs no configuration)."""
    given = settings.api_key.get_secret_value()
    if given:
        return given
    try:
        return settings.operator_key_file.read_text().strip()
    except OSError:
        return ""


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: object
    credentials: object
    wait_for_ready: object
    compression: object = None


def _with_key(details, key: str):
    metadata = [*(details.metadata or ()), (API_KEY_HEADER, key)]
    if isinstance(details, grpc.aio.ClientCallDetails):
        return grpc.aio.ClientCallDetails(details.method, details.timeout, metadata, details.credentials, details.wait_for_ready)
    return _CallDetails(details.method, details.timeout, metadata, details.credentials, details.wait_for_ready, details.compression)


class _KeyOnEveryCall(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                       grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """The blocking client's four call shapes in one: each adds the key to the call's metadata."""

    def __init__(self, key: str) -> None:
        self.key = key

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(_with_key(details, self.key), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(_with_key(details, self.key), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(_with_key(details, self.key), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(_with_key(details, self.key), request_iterator)


class _AioUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, key: str) -> None:
        self.key = key

    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(_with_key(details, self.key), request)


class _AioUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, key: str) -> None:
        self.key = key

    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(_with_key(details, self.key), request)


class _AioStreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, key: str) -> None:
        self.key = key

    async def intercept_stream_unary(self, continuation, details, request_iterator):
        return await continuation(_with_key(details, self.key), request_iterator)


class _AioStreamStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, key: str) -> None:
        self.key = key

    async def intercept_stream_stream(self, continuation, details, request_iterator):
        return await continuation(_with_key(details, self.key), request_iterator)


def host_channel(address: str, settings: Settings, options: ChannelOptions = ()) -> grpc.Channel:
    credentials = channel_credentials(settings)
    if credentials is None:
        channel = grpc.insecure_channel(address, options=list(options))
    else:
        channel = grpc.secure_channel(address, credentials, options=list(options))
    key = api_key(settings)
    return grpc.intercept_channel(channel, _KeyOnEveryCall(key)) if key else channel


def host_channel_aio(address: str, settings: Settings, options: ChannelOptions = ()) -> grpc.aio.Channel:
    credentials = channel_credentials(settings)
    key = api_key(settings)
    interceptors = [kind(key) for kind in (_AioUnaryUnary, _AioUnaryStream, _AioStreamUnary, _AioStreamStream)] if key else None
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=list(options), interceptors=interceptors)
    return grpc.aio.secure_channel(address, credentials, options=list(options), interceptors=interceptors)


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """The host's side: its certificate, and the CA client certificates must chain to when
    tls_client_auth is on. None (no certificate) serves plaintext."""
    pair = _own_pair(settings)
    if pair is None:
        if settings.tls_client_auth:
            raise InvalidArgument(
                code="tls_client_auth_without_tls",
                cause="tls_client_auth is on but the host has no TLS certificate",
                advice="set TWINFORGE_TLS_CERT_FILE and TWINFORGE_TLS_KEY_FILE, or turn TWINFORGE_TLS_CLIENT_AUTH off",
            )
        return None
    if settings.tls_client_auth and not settings.tls_ca_file:
        raise InvalidArgument(
            code="tls_client_auth_without_ca",
            cause="tls_client_auth is on but no CA is set to verify client certificates against",
            advice="set TWINFORGE_TLS_CA_FILE to the CA that signs the clients' certificates",
        )
    return grpc.ssl_server_credentials(
        [pair],
        root_certificates=_read(settings.tls_ca_file, "TLS CA bundle") if settings.tls_client_auth else None,
        require_client_auth=settings.tls_client_auth,
    )


def bind(server: grpc.aio.Server, address: str, settings: Settings) -> int:
    """Adds the host's port, TLS when a certificate is set; returns the bound port."""
    return add_port(server, address, "the host", "TWINFORGE_HOST_ADDRESS", server_credentials(settings))
