"""Random and malformed requests against every HostService RPC, over real loopback gRPC.

Requests are drawn from the message descriptors, so an RPC added to the proto is fuzzed without
touching this file. Whatever arrives, the host must answer with a status that names the caller's
mistake (never INTERNAL or UNKNOWN, which say the host broke), keep answering, and leave nothing
behind from a request it refused.

The host runs in the test's event loop; hypothesis drives a synchronous client from a worker
thread, so one real host serves every example of a test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import descriptor as pb_descriptor
from google.protobuf import message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from pydantic import SecretStr

from host import auth
from host.bootstrap import Runtime
from host.channels import host_channel, host_channel_aio
from host.channels import TOKEN_HEADER
from host.settings import get_settings
from host.storage import models
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

SERVICE = host_pb.DESCRIPTOR.services_by_name["HostService"]
METHODS = {m.name: m for m in SERVICE.methods}
UNARY = sorted(name for name, m in METHODS.items() if not m.client_streaming and not m.server_streaming)
BROKEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
UNEXPLAINED = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}  # the client's own doing
CALL_TIMEOUT_S = 10.0
WATCH_FOR_S = 0.3
UPLOAD_LIMIT = 4096
EXAMPLES = 30

FD = pb_descriptor.FieldDescriptor
INT_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1), FD.TYPE_SINT32: (-(2**31), 2**31 - 1), FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1), FD.TYPE_SINT64: (-(2**63), 2**63 - 1), FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1), FD.TYPE_FIXED32: (0, 2**32 - 1), FD.TYPE_UINT64: (0, 2**64 - 1), FD.TYPE_FIXED64: (0, 2**64 - 1),
    FD.TYPE_ENUM: (-(2**31), 2**31 - 1),
}

fuzzing = hypothesis_settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@dataclass
class World:
    """What the examples draw their plausible values from: one person's avatar and upload, another
    person's avatar and upload, and the host's own address. The examples call as the first person
    (`api_key`), so the second one's ids are someone else's."""

    address: str
    runtime: Runtime
    mine: str
    theirs: str
    my_key: str
    their_key: str
    api_key: str

    def known(self) -> list[str]:
        return [
            self.mine, self.theirs, self.my_key, self.their_key, self.address, uuid.uuid4().hex, "",
            f"avatars/{self.theirs}/../{self.mine}/x", "../../etc/passwd", "video", "video_analysis", "draft", "other",
            "local", "kubernetes", "background", "key_colour", "cli:anna", "telegram:42", "127.0.0.1:1",
        ]


def texts(world: World) -> st.SearchStrategy[str]:
    """Strings a careless or hostile client sends: known ids in the wrong place, unicode with
    NULs and controls, bytes read as Latin-1, and huge ones."""
    return st.one_of(
        st.sampled_from(world.known()),
        st.text(max_size=40),
        st.text(st.characters(codec="utf-8", categories=("Cc", "Zs", "So", "Lo", "Mn")), min_size=1, max_size=40),
        st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
        st.builds(lambda c, n: c * n, st.sampled_from(["x", "\0", "é", "😀", "/"]), st.integers(129, 300_000)),
    )


def json_texts(world: World) -> st.SearchStrategy[str]:
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=12,
    )
    return st.one_of(texts(world), values.map(json.dumps), st.just("NaN"), st.just('{"a": ' * 2000))


def message_strategy(descriptor: pb_descriptor.Descriptor, world: World, depth: int = 0) -> st.SearchStrategy:
    """Any message of this type: each field unset or set to a random value of its type."""
    cls = message_factory.GetMessageClass(descriptor)
    fields = {f.name: field_strategy(f, world, depth) for f in descriptor.fields}
    return st.fixed_dictionaries({}, optional=fields).map(lambda values: cls(**values))


def field_strategy(field: pb_descriptor.FieldDescriptor, world: World, depth: int) -> st.SearchStrategy:
    if field.type == FD.TYPE_MESSAGE:
        one = message_strategy(field.message_type, world, depth + 1) if depth < 3 else st.just(
            message_factory.GetMessageClass(field.message_type)()
        )
    elif field.type == FD.TYPE_STRING:
        one = json_texts(world) if field.name.endswith("_json") else texts(world)
    elif field.type == FD.TYPE_BYTES:
        one = st.binary(max_size=256)
    elif field.type == FD.TYPE_BOOL:
        one = st.booleans()
    elif field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        one = st.floats(width=32 if field.type == FD.TYPE_FLOAT else 64)
    else:
        low, high = INT_RANGES[field.type]
        one = st.one_of(st.sampled_from([low, -1, 0, 1, high]), st.integers(low, high))
    return st.lists(one, max_size=3) if field.label == FD.LABEL_REPEATED else one


def stored_state(runtime: Runtime) -> dict:
    """What a refused request must leave as it was: every table's row count, the last
    notification, and every file under the data directory except the database itself."""
    root = runtime.settings.resolved_data_dir
    return {
        "rows": {m.__name__: m.select().count() for m in models.ALL_MODELS},
        "last_notification": models.Notification.select(models.Notification.global_seq)
        .order_by(models.Notification.global_seq.desc())
        .scalar(),
        "files": sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("twinforge.db")),
    }


class Client:
    """A synchronous client with generic calls, so any bytes or message reach any method."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.cases = 0  # examples run, each ending with still_answers: the reliability record's count
        settings = get_settings().model_copy(update={"api_key": SecretStr(world.api_key)})
        self.channel = host_channel(world.address, settings, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])

    def close(self) -> None:
        self.channel.close()

    def path(self, name: str) -> str:
        return f"/{SERVICE.full_name}/{name}"

    def refused(self, call: Callable[[], object]) -> grpc.StatusCode | None:
        """Runs one call; returns the status it was refused with, or None when it succeeded."""
        try:
            call()
        except grpc.RpcError as exc:
            assert exc.code() not in BROKEN, f"{exc.code().name}: {exc.details()}"
            if exc.code() not in UNEXPLAINED:
                assert "twinforge-error-code" in dict(exc.trailing_metadata() or ()), f"no readable cause: {exc.code().name} {exc.details()}"
            return exc.code()
        return None

    def still_answers(self) -> None:
        self.cases += 1
        health = health_pb2_grpc.HealthStub(self.channel).Check(health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        host_grpc.HostServiceStub(self.channel).ListPlugins(host_pb.ListPluginsRequest(), timeout=CALL_TIMEOUT_S)

    def checked(self, call: Callable[[], object]) -> grpc.StatusCode | None:
        """One call under the three rules: no broken status, nothing left by a refusal, the host
        still answers."""
        before = stored_state(self.world.runtime)
        status = self.refused(call)
        if status is not None:
            self.unchanged(before, status)
        self.still_answers()
        return status

    def unchanged(self, before: dict, status: grpc.StatusCode, settle_s: float = 0.0) -> None:
        """`settle_s` gives the server side of a cancelled call time to clean up."""
        deadline = time.monotonic() + settle_s
        while (after := stored_state(self.world.runtime)) != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert after == before, f"a request refused with {status.name} changed the stored state"

    def token(self, send: bool) -> list[tuple[str, str]]:
        return [(TOKEN_HEADER, self.world.runtime.settings.registration_token)] if send else []


def run_in_thread(body: Callable[[], None]) -> Callable[[], None]:
    """hypothesis drives synchronous calls; off the event loop, so the host keeps serving them."""
    return lambda: asyncio.to_thread(body)


@pytest.fixture
async def world(host: str, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(runtime.settings, "max_upload_bytes", UPLOAD_LIMIT)
    async with host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)

        async def avatar_with_upload(owner: str) -> tuple[str, str]:
            avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Fuzz", owner=owner))).avatar.avatar_id

            async def parts():
                yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar, kind="note", filename="a.txt"))
                yield host_pb.UploadArtifactRequest(chunk=b"a note, stored as it is")

            return avatar, (await stub.UploadArtifact(parts())).artifact.key

        mine, my_key = await avatar_with_upload("cli:fuzz-mine")
        theirs, their_key = await avatar_with_upload("cli:fuzz-theirs")
    _, api_key = await asyncio.to_thread(auth.issue, "cli:fuzz-mine", "user")
    return World(host, runtime, mine, theirs, my_key, their_key, api_key)


@pytest.mark.parametrize("name", UNARY)
async def test_random_requests_to_a_unary_rpc_are_refused_cleanly(world: World, name: str, reliability):
    method = METHODS[name]
    cls = message_factory.GetMessageClass(method.input_type)
    client = Client(world)

    @fuzzing
    @given(request=message_strategy(method.input_type, world), with_token=st.booleans())
    def example(request, with_token: bool) -> None:
        call = client.channel.unary_unary(client.path(name), request_serializer=cls.SerializeToString)
        client.checked(lambda: call(request, timeout=CALL_TIMEOUT_S, metadata=client.token(with_token)))

    try:
        await run_in_thread(example)()
    finally:
        client.close()
    recorded(reliability, client, f"random {name} requests drawn from the proto descriptors: unicode with NULs and controls, strings up to 300 000 characters, int extremes, nested JSON in *_json fields, random ArtifactRefs, unknown and other people's ids, path-like keys; with and without the registration token")


def garbage() -> st.SearchStrategy[bytes]:
    """Bytes that are not a valid request: random, invalid UTF-8 in a string field, a length that
    runs past the end, an unterminated varint, a wrong wire type."""
    return st.one_of(
        st.binary(min_size=1, max_size=2048),
        st.binary(min_size=1, max_size=16).map(lambda b: b"\x0a" + bytes([len(b) + 1]) + b"\xff" + b),
        st.just(b"\x0a\xff\xff\xff\xff\x0f"),
        st.just(b"\x08" + b"\xff" * 11),
        st.just(b"\x0d\x01"),
        st.just(b"\x0f"),
    )


@pytest.mark.parametrize("name", sorted(METHODS))
async def test_garbage_bytes_to_any_rpc_are_refused_cleanly(world: World, name: str, reliability):
    method = METHODS[name]
    client = Client(world)

    def call(raw: bytes):
        path = client.path(name)
        if method.client_streaming:
            return client.channel.stream_unary(path)(iter([raw, raw]), timeout=CALL_TIMEOUT_S)
        if method.server_streaming:
            return list(client.channel.unary_stream(path)(raw, timeout=WATCH_FOR_S if name == "WatchNotifications" else CALL_TIMEOUT_S))
        return client.channel.unary_unary(path)(raw, timeout=CALL_TIMEOUT_S, metadata=client.token(True))

    @hypothesis_settings(fuzzing, max_examples=15)
    @given(raw=garbage())
    def example(raw: bytes) -> None:
        client.checked(lambda: call(raw))

    try:
        await run_in_thread(example)()
    finally:
        client.close()
    recorded(reliability, client, f"garbage bytes to {name} through a generic channel: random bytes, invalid UTF-8 in a string field, lengths past the end, unterminated varints, wrong wire types")


async def test_random_watch_requests_never_break_the_stream(world: World, reliability):
    """A watch follows forever: each example reads for a moment; running out of time is expected."""
    client = Client(world)
    watch = client.channel.unary_stream(client.path("WatchNotifications"), request_serializer=host_pb.WatchNotificationsRequest.SerializeToString, response_deserializer=host_pb.WatchNotificationsResponse.FromString)

    @fuzzing
    @given(request=message_strategy(host_pb.WatchNotificationsRequest.DESCRIPTOR, world))
    def example(request) -> None:
        status = client.checked(lambda: list(watch(request, timeout=WATCH_FOR_S)))
        assert status in (None, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)

    try:
        await run_in_thread(example)()
    finally:
        client.close()
    recorded(reliability, client, "WatchNotifications with random avatar ids and after_seq (negative, huge), read for 0.3 s")


async def test_random_downloads_are_refused_cleanly(world: World, reliability):
    client = Client(world)
    download = client.channel.unary_stream(client.path("DownloadArtifact"), request_serializer=host_pb.DownloadArtifactRequest.SerializeToString, response_deserializer=host_pb.DownloadArtifactResponse.FromString)

    @fuzzing
    @given(request=message_strategy(host_pb.DownloadArtifactRequest.DESCRIPTOR, world))
    def example(request) -> None:
        client.checked(lambda: list(download(request, timeout=CALL_TIMEOUT_S)))

    try:
        await run_in_thread(example)()
    finally:
        client.close()
    recorded(reliability, client, "DownloadArtifact with random keys")


def upload_parts(world: World) -> st.SearchStrategy[list[host_pb.UploadArtifactRequest]]:
    """Upload streams in any order: no header, chunks first, several headers, unknown or other
    people's avatars, hostile kinds and file names, sha256 that cannot match, past the size limit."""
    header = message_strategy(host_pb.UploadHeader.DESCRIPTOR, world).map(lambda h: host_pb.UploadArtifactRequest(header=h))
    chunk = st.one_of(st.binary(max_size=512), st.integers(UPLOAD_LIMIT // 2, UPLOAD_LIMIT + 1).map(lambda n: b"\0" * n))
    return st.lists(st.one_of(header, chunk.map(lambda c: host_pb.UploadArtifactRequest(chunk=c))), max_size=6)


async def test_random_upload_streams_are_refused_cleanly(world: World, reliability):
    client = Client(world)
    upload = client.channel.stream_unary(
        client.path("UploadArtifact"), request_serializer=host_pb.UploadArtifactRequest.SerializeToString
    )

    @hypothesis_settings(fuzzing, max_examples=50)
    @given(parts=upload_parts(world))
    def example(parts: list[host_pb.UploadArtifactRequest]) -> None:
        client.checked(lambda: upload(iter(parts), timeout=CALL_TIMEOUT_S))

    try:
        await run_in_thread(example)()
    finally:
        client.close()
    recorded(reliability, client, "UploadArtifact streams: no header, chunks first, several headers, unknown or other people's avatars, hostile kinds and file names, impossible sha256, past the upload limit (4 KiB here)")


async def test_an_upload_cancelled_midway_leaves_nothing(world: World, reliability):
    """The client goes away after a few chunks: no artifact, no notification, no spooled file. An
    upload to another person's avatar is refused as NOT_FOUND before any of it is kept."""
    client = Client(world)
    upload = client.channel.stream_unary(
        client.path("UploadArtifact"), request_serializer=host_pb.UploadArtifactRequest.SerializeToString
    )

    @hypothesis_settings(fuzzing, max_examples=10)
    @given(chunks=st.lists(st.binary(min_size=1, max_size=512), min_size=1, max_size=4), theirs=st.booleans())
    def example(chunks: list[bytes], theirs: bool) -> None:
        sent = threading.Event()
        hold = threading.Event()

        def parts() -> Iterator[host_pb.UploadArtifactRequest]:
            yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=world.theirs if theirs else world.mine, kind="video"))
            for c in chunks:
                yield host_pb.UploadArtifactRequest(chunk=c)
            sent.set()
            hold.wait(CALL_TIMEOUT_S)

        before = stored_state(world.runtime)
        future = upload.future(parts(), timeout=CALL_TIMEOUT_S)
        if theirs:
            assert future.exception(CALL_TIMEOUT_S) is not None
            hold.set()
            assert future.code() == grpc.StatusCode.NOT_FOUND, future.code()
        else:
            assert sent.wait(CALL_TIMEOUT_S)
            time.sleep(0.05)
            future.cancel()
            hold.set()
            assert future.code() == grpc.StatusCode.CANCELLED
        client.unchanged(before, future.code(), settle_s=3.0)
        client.still_answers()

    try:
        await run_in_thread(example)()
    finally:
        client.close()
    recorded(reliability, client, "uploads cancelled by the client after a few chunks", "CANCELLED (NOT_FOUND at once for another person's avatar), and no artifact, notification or spooled file left; the host still answers")


RULE = ("never INTERNAL or UNKNOWN; every refusal carries twinforge-error-code; a refused request leaves every table's row count, "
        "the last notification and the data directory's files unchanged; the health service and ListPlugins answer after each call")


def recorded(reliability, client: Client, what: str, rule: str = RULE) -> None:
    """One reliability record per test, written only once every example held the rule."""
    reliability.record(section="fuzzing", what=what, expected=rule, observed=f"{client.cases} cases, every one held")
