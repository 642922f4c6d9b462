"""gRPC over TLS to the host, with a CA the test generates: the real host serving a certificate for
127.0.0.1, clients that trust the CA (the CLI, the bot's client, a plugin registering) getting
through, and plaintext clients, clients trusting another CA and, when the host requires client
certificates, clients without one, all refused."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bot.host_client import HostClient
from host import cli
from host.bootstrap import Runtime
from host.channels import host_channel_aio, server_credentials
from host.errors import InvalidArgument
from host.server import running_host
from host.settings import Settings, get_settings
from plugins.sdk.server import running_plugin
from tests.integration.test_host_contract import Echo
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

TIMEOUT_S = 15.0
REFUSED_WITHIN_S = 5.0
HEALTHY = host_pb.PLUGIN_HEALTH_HEALTHY


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    other_client_cert: Path
    other_client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _builder(subject: str, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def make_ca(folder: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(name, _name(name), key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert, _write_cert(cert, folder / f"{name}.pem")


def issue(folder: Path, name: str, ca_key, ca_cert: x509.Certificate, server: bool) -> tuple[Path, Path]:
    """A leaf certificate signed by the CA: for 127.0.0.1 (SAN IP) when `server`, else a client's."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _builder(name, ca_cert.subject, key.public_key())
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False).sign(ca_key, hashes.SHA256())
    return _write_cert(cert, folder / f"{name}.pem"), _write_key(key, folder / f"{name}.key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert, ca = make_ca(folder, "twinforge-test-ca")
    other_key, other_cert, other_ca = make_ca(folder, "another-ca")
    server_cert, server_key = issue(folder, "host", ca_key, ca_cert, server=True)
    client_cert, client_key = issue(folder, "client", ca_key, ca_cert, server=False)
    other_client_cert, other_client_key = issue(folder, "stranger", other_key, other_cert, server=False)
    return Pki(ca, server_cert, server_key, client_cert, client_key, other_ca, other_client_cert, other_client_key)


def client(settings: Settings, ca: Path | None, cert: Path | None = None, key: Path | None = None, address: str = "") -> Settings:
    """A client's view of the settings: the CA it trusts and the certificate it presents, if any."""
    return settings.model_copy(update={
        "tls_ca_file": str(ca or ""), "tls_cert_file": str(cert or ""), "tls_key_file": str(key or ""),
        "tls_client_auth": False, **({"host_address": address} if address else {}),
    })


@contextlib.asynccontextmanager
async def tls_host(runtime: Runtime, pki: Pki, client_auth: bool) -> AsyncIterator[str]:
    runtime.settings = runtime.settings.model_copy(update={
        "tls_cert_file": str(pki.server_cert), "tls_key_file": str(pki.server_key),
        "tls_ca_file": str(pki.ca), "tls_client_auth": client_auth,
    })
    async with running_host(runtime, "127.0.0.1:0") as port:
        yield f"127.0.0.1:{port}"


async def list_plugins(channel: grpc.aio.Channel) -> host_pb.ListPluginsResponse:
    return await host_grpc.HostServiceStub(channel).ListPlugins(host_pb.ListPluginsRequest(), timeout=REFUSED_WITHIN_S)


async def refused(channel: grpc.aio.Channel) -> None:
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await list_plugins(channel)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE, f"{info.value.code().name}: {info.value.details()}"


async def registered_and_healthy(channel: grpc.aio.Channel, address: str) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        if any(p.address == address and p.health == HEALTHY for p in (await list_plugins(channel)).plugins):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the plugin at {address} did not register over TLS within {TIMEOUT_S} s")


async def test_tls_host_serves_clients_that_trust_its_ca(runtime, pki, monkeypatch, reliability):
    async with tls_host(runtime, pki, client_auth=False) as address:
        trusted = client(runtime.settings, pki.ca)
        async with host_channel_aio(address, trusted) as channel:
            stub = host_grpc.HostServiceStub(channel)
            avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="ada", owner="cli:ada"), timeout=TIMEOUT_S)).avatar
            assert avatar.avatar_id and avatar.name == "ada"

        bot_client = HostClient(address, runtime.settings.max_message_bytes, runtime.settings.upload_chunk_bytes, trusted)
        try:
            assert (await bot_client.avatar(avatar.avatar_id)).name == "ada"
        finally:
            await bot_client.close()

        async with contextlib.AsyncExitStack() as stack:
            plugin_address = await stack.enter_async_context(running_plugin(Echo(), client(runtime.settings, pki.ca, address=address)))
            async with host_channel_aio(address, trusted) as channel:
                await registered_and_healthy(channel, plugin_address)

        for name, value in (("HOST_ADDRESS", address), ("TLS_CA_FILE", str(pki.ca))):
            monkeypatch.setenv(f"TWINFORGE_{name}", value)
        get_settings.cache_clear()
        result = await asyncio.to_thread(CliRunner().invoke, cli.main, ["plugins", "ls", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == []

        await refused(grpc.aio.insecure_channel(address))
        await refused(host_channel_aio(address, client(runtime.settings, pki.other_ca)))
    reliability.record(
        section="security", what="someone on the network reads or alters gRPC traffic: a host serving TLS with a CA made by the test",
        expected="clients trusting the CA get through; a plaintext client and one trusting another CA are refused",
        observed="a raw stub, the bot's client, `twinforge plugins ls` and a registering plugin served over TLS; plaintext and the other CA refused",
    )


async def test_host_requiring_client_certificates_admits_only_those_from_its_ca(runtime, pki, reliability):
    async with tls_host(runtime, pki, client_auth=True) as address:
        await refused(host_channel_aio(address, client(runtime.settings, pki.ca)))
        await refused(host_channel_aio(address, client(runtime.settings, pki.ca, pki.other_client_cert, pki.other_client_key)))
        await refused(grpc.aio.insecure_channel(address))

        with_cert = client(runtime.settings, pki.ca, pki.client_cert, pki.client_key)
        async with host_channel_aio(address, with_cert) as channel:
            assert (await list_plugins(channel)).plugins == []
            async with contextlib.AsyncExitStack() as stack:
                plugin_address = await stack.enter_async_context(
                    running_plugin(Echo(), client(runtime.settings, pki.ca, pki.client_cert, pki.client_key, address))
                )
                await registered_and_healthy(channel, plugin_address)
    reliability.record(
        section="security", what="a client without a certificate, or with one from another CA, reaches a host with TWINFORGE_TLS_CLIENT_AUTH=true",
        expected="only certificates signed by TWINFORGE_TLS_CA_FILE are served",
        observed="no certificate, the other CA's certificate and plaintext refused; the CA's certificate served and a plugin registered with it",
    )


@pytest.mark.parametrize(
    ("update", "code"),
    [
        ({"tls_cert_file": "cert.pem"}, "tls_pair_incomplete"),
        ({"tls_client_auth": True}, "tls_client_auth_without_tls"),
        ({"tls_cert_file": "SERVER_CERT", "tls_key_file": "SERVER_KEY", "tls_client_auth": True}, "tls_client_auth_without_ca"),
        ({"tls_cert_file": "/nonexistent/host.pem", "tls_key_file": "SERVER_KEY"}, "tls_file_unreadable"),
    ],
)
def test_misconfigured_tls_names_the_setting_to_fix(pki, update, code, reliability):
    files = {"SERVER_CERT": str(pki.server_cert), "SERVER_KEY": str(pki.server_key)}
    settings = Settings(**{"tls_cert_file": "", "tls_key_file": "", "tls_ca_file": "", **{k: files.get(v, v) if isinstance(v, str) else v for k, v in update.items()}})
    with pytest.raises(InvalidArgument) as info:
        server_credentials(settings)
    assert info.value.code == code
    assert "TWINFORGE_TLS_" in info.value.advice
    reliability.record(section="security", what=f"TLS half configured: {', '.join(f'{k}={v}' for k, v in update.items())}",
                       expected="the process stops, naming the TWINFORGE_TLS_* setting to fix", observed=f"{code}: {info.value.advice}")
