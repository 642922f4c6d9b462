"""API keys and ownership over real loopback gRPC: a user key reaches only its own avatars on every
client RPC, someone else's answers exactly as one that does not exist (and changes nothing), an
operator key reaches everything, a service key (the bot) acts for the person it names and no other
key may name anyone, missing and revoked keys are refused with advice, `twinforge keys` issues,
lists and revokes, and the bot keeps two Telegram users apart.

Key comparison cannot leak through timing: the host hashes what it is sent (sha256) and looks the
hash up in a unique index (host/auth.py), so no comparison runs over the secret itself and how many
characters of a guess match cannot change how long the refusal takes; the tests below check that
only the hash is stored and that a near miss is refused like any unknown key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import SecretStr

from host import auth, use_cases
from host.channels import API_KEY_HEADER, ON_BEHALF_HEADER, host_channel_aio
from host.interceptors import PLUGIN_METHODS
from host.settings import get_settings
from host.state import StageState
from host.storage import models
from tests.integration.test_bot import ANNA, BEN, bot, telegram  # noqa: F401 (telegram is a fixture)
from tests.integration.test_host_contract import nothing_written, stored_state
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

ROOT = Path(__file__).resolve().parents[2]
SERVICE = host_pb.DESCRIPTOR.services_by_name["HostService"]
CLIENT_RPCS = {m.name: m for m in SERVICE.methods if f"/{SERVICE.full_name}/{m.name}" not in PLUGIN_METHODS}
UNKNOWN = "0" * 32
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Ids:
    avatar: str
    run: str
    artifact: str


# Every client RPC that names an avatar, a run or an artifact, with a request for the given ids.
SCOPED = {
    "GetAvatar": lambda i: host_pb.GetAvatarRequest(avatar_id=i.avatar),
    "CreateSubmission": lambda i: host_pb.CreateSubmissionRequest(avatar_id=i.avatar, video=plugin_pb.ArtifactRef(key=i.artifact)),
    "SubmitStage": lambda i: host_pb.SubmitStageRequest(avatar_id=i.avatar, stage="probe"),
    "ListStageRuns": lambda i: host_pb.ListStageRunsRequest(avatar_id=i.avatar),
    "CancelStageRun": lambda i: host_pb.CancelStageRunRequest(run_id=i.run, reason="not mine to cancel"),
    "WatchNotifications": lambda i: host_pb.WatchNotificationsRequest(avatar_id=i.avatar),
    "UploadArtifact": lambda i: host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=i.avatar, kind="note")),
    "DownloadArtifact": lambda i: host_pb.DownloadArtifactRequest(key=i.artifact),
    "ListMaterialVersions": lambda i: host_pb.ListMaterialVersionsRequest(avatar_id=i.avatar),
    "EditMaterials": lambda i: host_pb.EditMaterialsRequest(avatar_id=i.avatar, operation="despill", parameters_json='{"strength": 0.5}', by="cli:anna"),
    "RevertMaterials": lambda i: host_pb.RevertMaterialsRequest(avatar_id=i.avatar, version=1, by="cli:anna"),
    "ApproveAvatar": lambda i: host_pb.ApproveAvatarRequest(avatar_id=i.avatar, by="cli:anna"),
    "RejectAvatar": lambda i: host_pb.RejectAvatarRequest(avatar_id=i.avatar, by="cli:anna", reason="other", text="not mine"),
    "ListRounds": lambda i: host_pb.ListRoundsRequest(avatar_id=i.avatar),
    "Deploy": lambda i: host_pb.DeployRequest(avatar_id=i.avatar, target="local", by="cli:anna"),
    "Undeploy": lambda i: host_pb.UndeployRequest(avatar_id=i.avatar, by="cli:anna"),
    "GetEndpoint": lambda i: host_pb.GetEndpointRequest(avatar_id=i.avatar),
    "DeleteAvatar": lambda i: host_pb.DeleteAvatarRequest(avatar_id=i.avatar, cancel_running=True, by="cli:anna"),
}
# The rest take no one's id: each is checked for whose things it shows in its own test below.
UNSCOPED = {"ListPlugins", "CreateAvatar", "ListAvatars", "ListOperatorTasks", "AnswerOperatorTask"}  # the tasks: tests/integration/test_operator_tasks.py


@dataclass
class People:
    host: str
    anna: str  # avatar ids
    ben: str
    ben_ids: Ids
    anna_key: str
    ben_key: str


def keyed(host: str, key: str) -> grpc.aio.Channel:
    return host_channel_aio(host, get_settings().model_copy(update={"api_key": SecretStr(key)}))


async def call(stub: host_grpc.HostServiceStub, name: str, request, metadata=(), timeout: float = TIMEOUT_S):
    """Any RPC, whatever its shape; returns the reply (a list for a stream)."""
    method = CLIENT_RPCS[name]
    rpc = getattr(stub, name)
    if method.client_streaming:
        async def parts():
            yield request
            yield host_pb.UploadArtifactRequest(chunk=b"someone else's")
        return await rpc(parts(), metadata=metadata, timeout=timeout)
    if method.server_streaming:
        return [reply async for reply in rpc(request, metadata=metadata, timeout=timeout)]
    return await rpc(request, metadata=metadata, timeout=timeout)


async def refusal(stub, name: str, request, metadata=()) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(stub, name, request, metadata)
    return info.value


def told(error: grpc.aio.AioRpcError, *ids: str) -> tuple:
    """What a client learns from a refusal, with the ids it sent blanked out."""
    text = error.details() or ""
    for value in sorted(ids, key=len, reverse=True):  # an artifact key holds the avatar id
        text = text.replace(value, "ID")
    return error.code(), dict(error.trailing_metadata() or ()).get("twinforge-error-code"), text


def finished_run(runtime, avatar_id: str) -> str:
    """A run of the avatar that no queue or position pass touches again (cancelled at once)."""
    with runtime.uow() as uow:
        run = use_cases.submit_stage(uow, avatar_id, "probe", [], {}, {"probe"})
        use_cases.transition(uow, run, StageState.CANCELLED)
    return run.id


@pytest.fixture
async def people(host: str, runtime) -> People:
    """Anna and Ben, each with an avatar made by the operator; Ben's has an upload and a run."""
    async with host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        anna = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Anna", owner="cli:anna"))).avatar.avatar_id
        ben = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Ben", owner="cli:ben"))).avatar.avatar_id

        async def parts():
            yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=ben, kind="note", filename="ben.txt"))
            yield host_pb.UploadArtifactRequest(chunk=b"Ben's note")

        artifact = (await stub.UploadArtifact(parts())).artifact.key
    run = await asyncio.to_thread(finished_run, runtime, ben)
    (_, anna_key), (_, ben_key) = [await asyncio.to_thread(auth.issue, who, "user") for who in ("cli:anna", "cli:ben")]
    return People(host, anna, ben, Ids(ben, run, artifact), anna_key, ben_key)


async def test_every_client_rpc_answers_for_someone_elses_as_for_nothing(people: People, runtime):
    """Enumerated from the service descriptor: an RPC added to the proto fails here until it is
    listed with its ownership check. Anna's key on Ben's ids gets the very answer of unknown ids,
    NOT_FOUND, and nothing is stored."""
    assert set(SCOPED) | UNSCOPED == set(CLIENT_RPCS), "a client RPC is neither checked for ownership here nor listed as taking no id"
    unknown = Ids(UNKNOWN, UNKNOWN, f"avatars/{UNKNOWN}/uploads/{UNKNOWN}/note")
    async with keyed(people.host, people.anna_key) as channel:
        stub = host_grpc.HostServiceStub(channel)
        for name, build in sorted(SCOPED.items()):
            before = await asyncio.to_thread(stored_state, runtime)
            theirs = await refusal(stub, name, build(people.ben_ids))
            await nothing_written(runtime, before)
            nobodys = await refusal(stub, name, build(unknown))
            assert theirs.code() == grpc.StatusCode.NOT_FOUND, (name, theirs.code(), theirs.details())
            assert told(theirs, *vars(people.ben_ids).values()) == told(nobodys, *vars(unknown).values()), name
    async with keyed(people.host, people.ben_key) as channel:
        stub = host_grpc.HostServiceStub(channel)
        assert (await call(stub, "GetAvatar", SCOPED["GetAvatar"](people.ben_ids))).avatar.owner == "cli:ben"
        assert [r.run_id for r in (await call(stub, "ListStageRuns", SCOPED["ListStageRuns"](people.ben_ids))).runs] == [people.ben_ids.run]
        assert b"".join(r.chunk for r in await call(stub, "DownloadArtifact", SCOPED["DownloadArtifact"](people.ben_ids))) == b"Ben's note"


async def test_a_user_key_lists_creates_and_watches_only_its_own(people: People, runtime):
    async with keyed(people.host, people.anna_key) as channel:
        stub = host_grpc.HostServiceStub(channel)
        assert [a.avatar_id for a in (await stub.ListAvatars(host_pb.ListAvatarsRequest())).avatars] == [people.anna]
        assert not (await stub.ListAvatars(host_pb.ListAvatarsRequest(owner="cli:ben"))).avatars
        await stub.ListPlugins(host_pb.ListPluginsRequest())

        made = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Anna, office"))).avatar
        assert made.owner == "cli:anna"
        home = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Anna, home", owner="cli:anna"))).avatar
        assert home.owner == "cli:anna"
        before = await asyncio.to_thread(stored_state, runtime)
        error = await refusal(stub, "CreateAvatar", host_pb.CreateAvatarRequest(name="For Ben", owner="cli:ben"))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED and "only an operator key" in error.details()
        await nothing_written(runtime, before)

        seen = []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(), timeout=1.5):
                seen.append(reply.notification.avatar_id)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert set(seen) == {people.anna, made.avatar_id, home.avatar_id}, seen


async def test_an_operator_key_reaches_everyone(people: People):
    async with host_channel_aio(people.host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        listed = {a.avatar_id: a.owner for a in (await stub.ListAvatars(host_pb.ListAvatarsRequest())).avatars}
        assert listed == {people.anna: "cli:anna", people.ben: "cli:ben"}
        assert (await stub.GetAvatar(host_pb.GetAvatarRequest(avatar_id=people.ben))).avatar.name == "Ben"
        assert b"".join([r.chunk async for r in stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=people.ben_ids.artifact))]) == b"Ben's note"


async def test_calls_without_a_valid_key_are_unauthenticated(people: People):
    near_miss = people.anna_key[:-1] + ("x" if not people.anna_key.endswith("x") else "y")
    async with grpc.aio.insecure_channel(people.host) as channel:
        stub = host_grpc.HostServiceStub(channel)
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING  # probes need no key
        for metadata, code in (((), "missing_api_key"), (((API_KEY_HEADER, near_miss),), "bad_api_key")):
            error = await refusal(stub, "ListAvatars", host_pb.ListAvatarsRequest(), metadata)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            trailing = dict(error.trailing_metadata())
            assert trailing["twinforge-error-code"] == code
            assert "TWINFORGE_API_KEY" in trailing["twinforge-advice"] and "twinforge keys issue" in trailing["twinforge-advice"]
        row = models.ApiKey.get(models.ApiKey.key_hash == hashlib.sha256(people.anna_key.encode()).hexdigest())
        stored = json.dumps(models.ApiKey.select().where(models.ApiKey.id == row.id).dicts().get(), default=str)
        assert people.anna_key not in stored  # only the hash is kept
        await stub.ListAvatars(host_pb.ListAvatarsRequest(), metadata=((API_KEY_HEADER, people.anna_key),))
        await asyncio.to_thread(auth.revoke, row.id)
        error = await refusal(stub, "ListAvatars", host_pb.ListAvatarsRequest(), ((API_KEY_HEADER, people.anna_key),))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in error.details()


async def test_only_a_service_key_acts_on_behalf_of_someone(people: People):
    _, service_key = await asyncio.to_thread(auth.issue, "service:bot", "service")
    async with keyed(people.host, service_key) as channel:
        stub = host_grpc.HostServiceStub(channel)
        error = await refusal(stub, "ListAvatars", host_pb.ListAvatarsRequest())
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED and ON_BEHALF_HEADER in dict(error.trailing_metadata())["twinforge-advice"]
        as_newcomer = ((ON_BEHALF_HEADER, "telegram:77"),)
        assert not (await stub.ListAvatars(host_pb.ListAvatarsRequest(), metadata=as_newcomer)).avatars
        made = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Seventy-seven"), metadata=as_newcomer)).avatar
        assert made.owner == "telegram:77" and models.User.get_or_none(models.User.external_id == "telegram:77") is not None
        as_ben = ((ON_BEHALF_HEADER, "cli:ben"),)
        assert [a.avatar_id for a in (await stub.ListAvatars(host_pb.ListAvatarsRequest(), metadata=as_ben)).avatars] == [people.ben]
        error = await refusal(stub, "GetAvatar", host_pb.GetAvatarRequest(avatar_id=made.avatar_id), as_ben)
        assert error.code() == grpc.StatusCode.NOT_FOUND
    for key in (people.anna_key, get_settings().api_key.get_secret_value()):  # a user key, the operator key
        async with keyed(people.host, key) as channel:
            error = await refusal(host_grpc.HostServiceStub(channel), "ListAvatars", host_pb.ListAvatarsRequest(), ((ON_BEHALF_HEADER, "cli:ben"),))
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED and dict(error.trailing_metadata())["twinforge-error-code"] == "on_behalf_of_not_allowed"


def twinforge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "host.cli", *args], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60)


async def test_keys_are_issued_listed_and_revoked_with_the_cli(people: People):
    issued = await asyncio.to_thread(twinforge, "keys", "issue", "--user", "cli:carol", "--role", "user", "--label", "laptop")
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip()
    listed = await asyncio.to_thread(twinforge, "keys", "ls", "--json")
    (row,) = [r for r in json.loads(listed.stdout) if r["user"] == "cli:carol"]
    assert row["role"] == "user" and row["label"] == "laptop" and not row["revoked_at"] and key not in listed.stdout
    async with keyed(people.host, key) as channel:
        stub = host_grpc.HostServiceStub(channel)
        assert (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Carol"))).avatar.owner == "cli:carol"
        revoked = await asyncio.to_thread(twinforge, "keys", "revoke", row["id"])
        assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
        assert (await refusal(stub, "ListAvatars", host_pb.ListAvatarsRequest())).code() == grpc.StatusCode.UNAUTHENTICATED
    unknown = await asyncio.to_thread(twinforge, "keys", "revoke", "no-such-key")
    assert unknown.returncode == 1 and "keys ls" in unknown.stderr


async def test_the_bot_acts_for_each_telegram_user_apart(host, runtime, telegram):
    async with bot(runtime, host, telegram):
        telegram.text(ANNA, "/new Anna's twin")
        telegram.text(BEN, "/new Ben's twin")
        await telegram.said_containing(ANNA, "New avatar")
        await telegram.said_containing(BEN, "New avatar")
        owners = {a.name: a.owner.external_id for a in models.Avatar.select(models.Avatar, models.User).join(models.User)}
        assert owners == {"Anna's twin": f"telegram:{ANNA}", "Ben's twin": f"telegram:{BEN}"}
        telegram.text(BEN, "/avatars")
        listing = await telegram.said_containing(BEN, "Ben's twin")
        assert "Anna's twin" not in listing.params["text"]
