"""Secrets never leave the host: a real host process holding a database password, an S3 secret key,
the registration token, a bot token and a client's API key, driven through good and failing RPCs
and through failing starts, writes none of them to its logs (JSON on stderr, at DEBUG) nor to any
error a client reads."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from host.channels import API_KEY_HEADER, host_channel_aio
from host.settings import Settings
from host.channels import TOKEN_HEADER
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

START_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Secrets:
    database_password: str
    s3_secret_key: str
    registration_token: str
    bot_token: str
    api_key: str = ""  # issued once the host has made its database

    def __iter__(self) -> Iterator[str]:
        return iter(s for s in (self.database_password, self.s3_secret_key, self.registration_token, self.bot_token, self.api_key) if s)


@pytest.fixture
def secrets() -> Secrets:
    """Unique strings, so any occurrence in a log or a message can only be a leak."""
    tag = uuid.uuid4().hex[:10]
    return Secrets(f"pgpass{tag}", f"s3secret{tag}", f"regtoken{tag}", f"4242:bottoken{tag}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{password}@{host}"


def host_env(tmp_path: Path, database_url: str, storage_url: str, redis_url: str, secrets: Secrets, address: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINFORGE_")}
    env.update({
        "TWINFORGE_DATA_DIR": str(tmp_path / "data"),
        "TWINFORGE_DATABASE_URL": database_url,
        "TWINFORGE_STORAGE_URL": storage_url,
        "TWINFORGE_REDIS_URL": redis_url,
        "TWINFORGE_HOST_ADDRESS": address,
        "TWINFORGE_REGISTRATION_TOKEN": secrets.registration_token,
        "TWINFORGE_BOT_TOKEN": secrets.bot_token,
        "TWINFORGE_LOG_LEVEL": "DEBUG",
        "TWINFORGE_HEARTBEAT_INTERVAL_S": "0.5",
    })
    return env


def leaks(text: str, secrets: Secrets) -> list[str]:
    return [secret for secret in secrets if secret in text]


@pytest.fixture
def s3_with_secret(moto_server: str, secrets: Secrets) -> str:
    return f"s3://twinforge-access:{secrets.s3_secret_key}@{moto_server}/tf-{uuid.uuid4().hex[:16]}?secure=false"


@pytest.fixture
async def host_process(tmp_path, pg_url, s3_with_secret, redis_url, secrets) -> AsyncIterator[tuple[str, Path, str]]:
    """The host as its own process; yields its address, the file its stderr (the logs) goes to, and
    an API key issued by `twinforge keys issue` on the host's database."""
    address = f"127.0.0.1:{free_port()}"
    log_path = tmp_path / "host.log"
    env = host_env(tmp_path, with_password(pg_url, secrets.database_password), s3_with_secret, redis_url, secrets, address)
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "host.server"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(int(START_TIMEOUT_S / 0.2)):
                if proc.poll() is not None:
                    raise AssertionError(f"the host exited ({proc.returncode}): {log_path.read_text()[-2000:]}")
                try:
                    if (await health.Check(health_pb2.HealthCheckRequest(), timeout=1)).status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.aio.AioRpcError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"the host did not serve within {START_TIMEOUT_S} s")
        issued = subprocess.run([sys.executable, "-m", "host.cli", "keys", "issue", "--user", "cli:ada"], env=env, capture_output=True, text=True, timeout=60)
        assert issued.returncode == 0 and issued.stdout.strip(), issued.stderr[-2000:]
        assert issued.stdout.strip() not in issued.stderr
        yield address, log_path, issued.stdout.strip()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def told(error: grpc.aio.AioRpcError) -> str:
    """Everything a client reads of a refusal: the details and every trailing metadata value."""
    return " ".join([error.details() or "", *(str(v) for _, v in (error.trailing_metadata() or ()))])


async def test_secrets_reach_neither_logs_nor_clients(host_process, secrets: Secrets, reliability):
    address, log_path, api_key = host_process
    secrets = dataclasses.replace(secrets, api_key=api_key)
    near_key = api_key[:-1] + ("x" if not api_key.endswith("x") else "y")
    refusals: list[str] = []

    async def refused(call) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        refusals.append(told(info.value))

    async with grpc.aio.insecure_channel(address) as bare:
        for metadata in (None, ((API_KEY_HEADER, near_key),)):
            await refused(host_grpc.HostServiceStub(bare).ListAvatars(host_pb.ListAvatarsRequest(), metadata=metadata, timeout=CALL_TIMEOUT_S))
    async with host_channel_aio(address, Settings(api_key=api_key)) as channel:
        stub = host_grpc.HostServiceStub(channel)
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="ada", owner="cli:ada"), timeout=CALL_TIMEOUT_S)).avatar
        data = b"not a video, stored in S3 all the same"

        async def parts(sha256: str):
            yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar.avatar_id, kind="note", filename="n.txt", sha256=sha256))
            yield host_pb.UploadArtifactRequest(chunk=data)

        stored = (await stub.UploadArtifact(parts(hashlib.sha256(data).hexdigest()), timeout=CALL_TIMEOUT_S)).artifact
        downloaded = b"".join([r.chunk async for r in stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=stored.key), timeout=CALL_TIMEOUT_S)])
        assert downloaded == data

        await refused(stub.UploadArtifact(parts("0" * 64), timeout=CALL_TIMEOUT_S))
        await refused(_drain(stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key="blobs/nowhere"), timeout=CALL_TIMEOUT_S)))
        await refused(stub.GetAvatar(host_pb.GetAvatarRequest(avatar_id="no-such-avatar"), timeout=CALL_TIMEOUT_S))
        await refused(stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar.avatar_id), timeout=CALL_TIMEOUT_S))
        await refused(stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id=avatar.avatar_id, stage="no_such_stage"), timeout=CALL_TIMEOUT_S))
        unreachable = host_pb.RegisterPluginRequest(address=f"127.0.0.1:{free_port()}")
        near_miss = secrets.registration_token[:-1] + ("x" if not secrets.registration_token.endswith("x") else "y")
        for metadata in (None, ((TOKEN_HEADER, near_miss),), ((TOKEN_HEADER, secrets.registration_token),)):
            await refused(stub.RegisterPlugin(unreachable, metadata=metadata, timeout=CALL_TIMEOUT_S))
        await refused(stub.Heartbeat(host_pb.HeartbeatRequest(plugin_id="ghost"), metadata=((TOKEN_HEADER, secrets.registration_token),), timeout=CALL_TIMEOUT_S))

    assert len(refusals) == 11 and all(refusals), refusals
    assert not [(text, leaks(text, secrets)) for text in refusals if leaks(text, secrets)]

    await asyncio.sleep(1.0)  # a few heartbeat intervals of background logging
    logs = log_path.read_text()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert lines, f"the host wrote no JSON log line at DEBUG: {logs[:500]}"
    assert not leaks(logs, secrets), [line for line in logs.splitlines() if leaks(line, secrets)][:5]
    reliability.record(section="security", what=f"secrets in logs or error messages: a host process holding {', '.join(f.name for f in dataclasses.fields(secrets))}, logging at DEBUG, through good and failing RPCs",
                       expected="none of the secrets in its logs, in any status details or in any trailing metadata",
                       observed=f"{len(refusals)} refusals and {len(lines)} JSON log lines read: no secret in any")


async def _drain(stream) -> None:
    async for _ in stream:
        pass


@pytest.mark.parametrize("broken", ["database", "storage"])
def test_a_host_that_cannot_start_names_the_service_not_its_secret(tmp_path, pg_url, s3_with_secret, redis_url, secrets, broken, reliability):
    """The database refusing (no such database) and the S3 service unreachable: the host stops with
    an error that names what failed, and no credential."""
    database = with_password(pg_url, secrets.database_password)
    storage = s3_with_secret
    if broken == "database":
        database = database.rsplit("/", 1)[0] + "/twinforge_no_such_database"
    else:
        storage = f"s3://twinforge-access:{secrets.s3_secret_key}@127.0.0.1:{free_port()}/bucket?secure=false"
    env = host_env(tmp_path, database, storage, redis_url, secrets, f"127.0.0.1:{free_port()}")
    done = subprocess.run([sys.executable, "-m", "host.server"], env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S + 120)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-2000:]
    assert ("cannot open the database" if broken == "database" else "storage service") in output, output[-2000:]
    assert not leaks(output, secrets), output[-3000:]
    reliability.record(section="security", what=f"a host that cannot start: {'the database refuses (no such database)' if broken == 'database' else 'the S3 service is unreachable'}",
                       expected="it stops naming the service that failed, and no credential", observed=f"exit {done.returncode}, the service named, no secret in its output")
