"""The host's gRPC contract over real loopback gRPC: plugin registration and health, routing over
replicas, streamed events, error propagation, refusal of bad input with nothing half written, and
behaviour when storage or Redis is down."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
import time

import grpc
import pytest
import redis

from host import registry
from host.bootstrap import Runtime
from host.channels import TOKEN_HEADER
from host.server import running_host
from host.storage import models
from host.storage.s3 import S3BlobStore
from host.channels import host_channel_aio
from host.settings import get_settings
from plugins.sdk import server as sdk_server
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.registration import Registration
from scheduler import jobs
from scheduler.queues import job_id, position
from scheduler.recovery import recover
from tests.fixtures.media import write_test_video
from tests.fixtures.services import start_plugin
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

TIMEOUT_S = 15.0
HEALTHY, DOWN = host_pb.PLUGIN_HEALTH_HEALTHY, host_pb.PLUGIN_HEALTH_DOWN


class Echo(Plugin):
    """A test plugin whose behaviour is chosen by its parameters; it names its replica in the summary."""

    name = "echo"
    version = "1.0.0"
    stages = ("echo",)
    parameters_schema = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["ok", "report", "chatty", "stage_failed", "crash"]},
            "seconds": {"type": "number", "minimum": 0, "maximum": 5},
        },
        "additionalProperties": False,
    }

    def __init__(self, replica: str = "a") -> None:
        self.replica = replica

    def run(self, ctx: RunContext) -> None:
        ctx.summary = {"replica": self.replica}
        mode = ctx.parameters.get("mode", "ok")
        if mode == "report":
            ctx.progress(0.25, "a quarter")
            ctx.log("looking closely", "warning")
            ctx.metric("loss", 0.5, step=3)
            out = ctx.workdir / "out.txt"
            out.write_text("hello")
            ctx.save_artifact(out, "out.txt", "report", {"lines": 1})
            ctx.progress(0.5, "half (throttled: less than a second after the last report)")
            ctx.progress(1.0, "done")
        elif mode == "chatty":
            end = time.monotonic() + ctx.parameters.get("seconds", 1.2)
            i = 0
            while time.monotonic() < end:
                i += 1
                ctx.progress(min(0.99, i / 1e5), f"step {i}")
                time.sleep(0.001)
            ctx.progress(1.0, "done")
        elif mode == "stage_failed":
            raise StageFailed("too_dark", "the video is too dark to find a face", "film facing a window in daylight")
        elif mode == "crash":
            raise RuntimeError("boom")


class Other(Echo):
    name = "other"


# ---------------------------------------------------------------------------------------------
# helpers


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trailing(error: grpc.aio.AioRpcError) -> dict[str, str]:
    return dict(error.trailing_metadata() or ())


async def rejected(call, code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, f"{info.value.code().name}: {info.value.details()}"
    return info.value


async def eventually(check, what: str, timeout: float = TIMEOUT_S, every: float = 0.05):
    """Polls the async `check` until it returns something truthy; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(every)


async def plugin_at(stub, address: str) -> host_pb.PluginInfo | None:
    for p in (await stub.ListPlugins(host_pb.ListPluginsRequest())).plugins:
        if p.address == address:
            return p
    return None


async def wait_health(stub, address: str, health: int) -> host_pb.PluginInfo:
    async def check():
        info = await plugin_at(stub, address)
        return info if info is not None and info.health == health else None

    return await eventually(check, f"plugin at {address} {host_pb.PluginHealth.Name(health)}")


def stored_state(runtime: Runtime) -> dict:
    """What a rejected request must leave unchanged: row counts, the last notification, and every
    file under the data directory except the database itself (blobs, spooled uploads)."""
    root = runtime.settings.resolved_data_dir
    counted = (models.User, models.Avatar, models.Submission, models.StageRun, models.Artifact, models.Notification)
    return {
        "rows": {m.__name__: m.select().count() for m in counted},
        "last_notification": models.Notification.select(models.Notification.global_seq)
        .order_by(models.Notification.global_seq.desc())
        .scalar(),
        "files": sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("twinforge.db")),
    }


async def nothing_written(runtime: Runtime, before: dict) -> None:
    assert await asyncio.to_thread(stored_state, runtime) == before, "a rejected request left rows, a notification or files behind"


class Replica:
    """A plugin server registered with the host that the test can kill like a crash: the server
    stops at once and nothing deregisters it."""

    def __init__(self, plugin: Plugin, settings, port: int = 0) -> None:
        self.plugin, self.settings, self.port = plugin, settings, port

    async def start(self) -> "Replica":
        self.server, _, self.address = await sdk_server.start(self.plugin, self.settings, self.port)
        self.port = int(self.address.rsplit(":", 1)[1])
        self.registration = Registration(self.settings.host_address, self.address, self.settings.registration_token)
        self.keeper = asyncio.create_task(self.registration.keep(asyncio.Event()))
        await asyncio.wait_for(self.registration.registered.wait(), TIMEOUT_S)
        return self

    async def kill(self) -> None:
        self.keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.keeper
        await self.server.stop(0)


@pytest.fixture
async def replicas():
    started: list[Replica] = []

    async def make(plugin: Plugin, settings, port: int = 0) -> Replica:
        replica = await Replica(plugin, settings, port).start()
        started.append(replica)
        return replica

    yield make
    for replica in started:
        await replica.kill()


@pytest.fixture
async def stub(host):
    async with host_channel_aio(host, get_settings()) as channel:
        yield host_grpc.HostServiceStub(channel)


@pytest.fixture
async def echo(host, stub):
    """One Echo replica, registered and healthy; yields its address."""
    async with contextlib.AsyncExitStack() as stack:
        address = await start_plugin(Echo(), stack)
        await wait_health(stub, address, HEALTHY)
        yield address


async def new_avatar(stub, name: str = "Anna") -> str:
    return (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name=name, owner="cli:anna"))).avatar.avatar_id


async def submit(stub, avatar_id: str, stage: str = "echo", **parameters) -> host_pb.StageRun:
    request = host_pb.SubmitStageRequest(avatar_id=avatar_id, stage=stage, parameters_json=json.dumps(parameters))
    return (await stub.SubmitStage(request)).run


async def run_once(stub, avatar_id: str, **parameters) -> host_pb.StageRun:
    """Submits an echo run, drives it as a queue worker would, and returns the recorded run."""
    run = await submit(stub, avatar_id, **parameters)
    await asyncio.to_thread(jobs.run_stage, run.run_id)
    runs = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar_id))).runs
    return next(r for r in runs if r.run_id == run.run_id)


async def run_notifications(stub, avatar_id: str, run_id: str) -> list[host_pb.Notification]:
    """The run's notifications, read through WatchNotifications up to its final one."""
    final = {"stage_succeeded", "stage_failed", "stage_cancelled"}
    found = []
    async with asyncio.timeout(TIMEOUT_S):
        async for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar_id)):
            note = reply.notification
            if note.run_id == run_id:
                found.append(note)
                if note.kind in final:
                    return found
    raise AssertionError("the notification stream ended")


def served_by(run: host_pb.StageRun) -> str:
    return json.loads(run.summary_json)["replica"]


# ---------------------------------------------------------------------------------------------
# registration


async def test_registration_needs_the_token(host, stub, runtime):
    server, _, address = await sdk_server.start(Echo(), runtime.settings)
    try:
        request = host_pb.RegisterPluginRequest(address=address)
        token = runtime.settings.registration_token
        last_differs = token[:-1] + ("x" if token[-1] != "x" else "y")
        for metadata in (None, ((TOKEN_HEADER, "wrong-token"),), ((TOKEN_HEADER, ""),), ((TOKEN_HEADER, last_differs),)):
            error = await rejected(stub.RegisterPlugin(request, metadata=metadata), grpc.StatusCode.UNAUTHENTICATED)
            assert "registration token" in error.details()
            meta = trailing(error)
            assert meta["twinforge-error-code"] == "bad_registration_token"
            assert TOKEN_HEADER in meta["twinforge-advice"] and "TWINFORGE_REGISTRATION_TOKEN" in meta["twinforge-advice"]
        assert await plugin_at(stub, address) is None

        good = ((TOKEN_HEADER, runtime.settings.registration_token),)
        reply = await stub.RegisterPlugin(request, metadata=good)
        assert reply.plugin.plugin_id and reply.plugin.description.name == "echo"
        assert reply.heartbeat_interval_seconds == runtime.settings.heartbeat_interval_s
        beat = await stub.Heartbeat(host_pb.HeartbeatRequest(plugin_id=reply.plugin.plugin_id), metadata=good)
        assert beat.health == HEALTHY

        for rpc, message in (
            (stub.Heartbeat, host_pb.HeartbeatRequest(plugin_id=reply.plugin.plugin_id)),
            (stub.DeregisterPlugin, host_pb.DeregisterPluginRequest(plugin_id=reply.plugin.plugin_id)),
        ):
            await rejected(rpc(message), grpc.StatusCode.UNAUTHENTICATED)
        assert (await plugin_at(stub, address)).plugin_id == reply.plugin.plugin_id
    finally:
        await server.stop(0)


async def test_heartbeat_of_an_unknown_plugin_is_not_found(host, stub, runtime):
    good = ((TOKEN_HEADER, runtime.settings.registration_token),)
    error = await rejected(stub.Heartbeat(host_pb.HeartbeatRequest(plugin_id="nope"), metadata=good), grpc.StatusCode.NOT_FOUND)
    assert trailing(error)["twinforge-error-code"] == "unknown_plugin"
    assert trailing(error)["twinforge-advice"]


async def test_registering_an_unreachable_address_is_unavailable(host, stub, runtime):
    good = ((TOKEN_HEADER, runtime.settings.registration_token),)
    address = f"127.0.0.1:{closed_port()}"
    await rejected(stub.RegisterPlugin(host_pb.RegisterPluginRequest(address=address), metadata=good), grpc.StatusCode.UNAVAILABLE)
    assert await plugin_at(stub, address) is None


async def test_another_plugin_cannot_take_a_healthy_plugins_address(host, stub, runtime, replicas):
    echo = await replicas(Echo(), runtime.settings)
    before = await wait_health(stub, echo.address, HEALTHY)
    await echo.kill()
    # Another plugin now listens on the same port before the host noticed the first one stopped.
    server, _, address = await sdk_server.start(Other(), runtime.settings, port=echo.port)
    try:
        assert address == echo.address
        good = ((TOKEN_HEADER, runtime.settings.registration_token),)
        error = await rejected(
            stub.RegisterPlugin(host_pb.RegisterPluginRequest(address=address), metadata=good), grpc.StatusCode.ALREADY_EXISTS
        )
        assert trailing(error)["twinforge-error-code"] == "address_taken"
        after = await plugin_at(stub, address)
        assert (after.plugin_id, after.description.name) == (before.plugin_id, "echo")
    finally:
        await server.stop(0)


async def test_a_restarted_plugin_keeps_its_id(host, stub, runtime, replicas):
    first = await replicas(Echo(), runtime.settings)
    before = await wait_health(stub, first.address, HEALTHY)
    await first.kill()
    again = await replicas(Echo(), runtime.settings, port=first.port)
    assert again.registration.plugin_id == before.plugin_id
    after = await wait_health(stub, first.address, HEALTHY)
    assert after.plugin_id == before.plugin_id
    assert len((await stub.ListPlugins(host_pb.ListPluginsRequest(stage="echo"))).plugins) == 1


# ---------------------------------------------------------------------------------------------
# health and routing


async def test_a_stopped_plugin_goes_down_gets_no_calls_and_comes_back(host, stub, runtime, replicas):
    a = await replicas(Echo("a"), runtime.settings)
    b = await replicas(Echo("b"), runtime.settings)
    b_id = (await wait_health(stub, b.address, HEALTHY)).plugin_id
    avatar_id = await new_avatar(stub)

    await b.kill()
    stopped = time.monotonic()
    down = await wait_health(stub, b.address, DOWN)
    assert time.monotonic() - stopped < 15.0
    assert down.last_error
    assert (await plugin_at(stub, a.address)).health == HEALTHY

    for _ in range(3):
        run = await run_once(stub, avatar_id)
        assert run.state == host_pb.STAGE_STATE_SUCCEEDED and served_by(run) == "a"

    async with sdk_server.running_plugin(Echo("b"), runtime.settings, port=b.port) as address:
        assert address == b.address
        back = await wait_health(stub, b.address, HEALTHY)
        assert back.plugin_id == b_id and not back.last_error
        served = {served_by(await run_once(stub, avatar_id)) for _ in range(2)}
        assert served == {"a", "b"}


async def test_a_plugin_whose_heartbeats_stop_goes_down_and_recovers(host, stub, runtime, replicas):
    """Its server still answers health checks, but it stopped heartbeating (a wedged process):
    after plugin_down_after_s it is down; when heartbeats resume it is healthy again."""
    silent = await replicas(Echo(), runtime.settings)
    plugin_id = (await wait_health(stub, silent.address, HEALTHY)).plugin_id
    silent.keeper.cancel()
    down = await wait_health(stub, silent.address, DOWN)
    assert "heartbeat" in down.last_error
    good = ((TOKEN_HEADER, runtime.settings.registration_token),)
    # The heartbeat only refreshes last_seen; the next health round, which also reaches the plugin
    # at its address, brings it back.
    await stub.Heartbeat(host_pb.HeartbeatRequest(plugin_id=plugin_id), metadata=good)
    assert (await wait_health(stub, silent.address, HEALTHY)).plugin_id == plugin_id


async def test_runs_alternate_between_replicas(host, stub, runtime, replicas):
    await replicas(Echo("a"), runtime.settings)
    await replicas(Echo("b"), runtime.settings)
    avatar_id = await new_avatar(stub)
    served = [served_by(await run_once(stub, avatar_id)) for _ in range(4)]
    assert sorted(served) == ["a", "a", "b", "b"]
    assert all(x != y for x, y in zip(served, served[1:])), served


async def test_a_dead_replica_is_skipped_and_the_run_retried_on_another(host, stub, runtime, replicas, monkeypatch):
    async def monitor_paused(*args, **kwargs) -> None:
        return None

    by_name = {"a": await replicas(Echo("a"), runtime.settings), "b": await replicas(Echo("b"), runtime.settings)}
    avatar_id = await new_avatar(stub)
    served = [served_by(await run_once(stub, avatar_id)) for _ in range(2)]
    # The host would notice the death within a probe interval; pause it so the dead replica is
    # still listed as healthy, and kill the replica whose turn is next.
    monkeypatch.setattr(registry, "check_all", monitor_paused)
    dead, alive = served[0], served[1]
    await by_name[dead].kill()
    assert (await plugin_at(stub, by_name[dead].address)).health == HEALTHY

    run = await run_once(stub, avatar_id)
    assert run.state == host_pb.STAGE_STATE_SUCCEEDED
    assert served_by(run) == alive
    assert run.attempt == 1, "the retry happens inside the attempt, before the run started"


# ---------------------------------------------------------------------------------------------
# streamed events


async def test_reported_events_become_ordered_notifications(host, stub, echo):
    avatar_id = await new_avatar(stub)
    run = await run_once(stub, avatar_id, mode="report")
    assert run.state == host_pb.STAGE_STATE_SUCCEEDED
    notes = await run_notifications(stub, avatar_id, run.run_id)
    payloads = [(n.kind, json.loads(n.payload_json)) for n in notes]
    (artifact,) = run.outputs
    assert artifact.key == f"avatars/{avatar_id}/echo/{run.run_id}/out.txt"
    assert [kind for kind, _ in payloads] == [
        "stage_queued",
        "stage_running",
        "stage_progress",
        "stage_progress",
        "stage_log",
        "stage_metric",
        "stage_artifact",
        "stage_progress",
        "stage_succeeded",
    ]
    assert payloads[1][1] == {"attempt": 1}
    assert payloads[2][1] == {"fraction": 0.0, "message": "started"}  # an unknown ETA is left out
    assert payloads[3][1]["fraction"] == 0.25 and payloads[3][1]["message"] == "a quarter"
    assert payloads[4][1] == {"level": "warning", "message": "looking closely"}
    assert payloads[5][1] == {"name": "loss", "value": 0.5, "step": 3}
    assert payloads[6][1] == {"key": artifact.key, "kind": "report", "name": "out.txt", "size": 5}
    assert payloads[7][1]["fraction"] == 1.0 and payloads[7][1]["message"] == "done"
    assert payloads[8][1] == {"outputs": [artifact.key], "summary": {"replica": "a"}}
    seqs = [n.seq for n in notes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert run.progress == 1.0 and run.progress_message == "done"
    assert json.loads(artifact.metadata_json) == {"lines": 1}


async def test_progress_is_throttled_to_about_one_a_second(host, stub, echo):
    avatar_id = await new_avatar(stub)
    started = time.monotonic()
    run = await run_once(stub, avatar_id, mode="chatty", seconds=1.2)
    elapsed = time.monotonic() - started
    assert run.state == host_pb.STAGE_STATE_SUCCEEDED
    fractions = [json.loads(n.payload_json)["fraction"] for n in await run_notifications(stub, avatar_id, run.run_id) if n.kind == "stage_progress"]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    middle = fractions[1:-1]
    assert 1 <= len(middle) <= int(elapsed) + 1, f"{len(middle)} progress reports in {elapsed:.1f} s"
    assert middle == sorted(middle)


# ---------------------------------------------------------------------------------------------
# errors raised by plugins


async def test_stage_failed_reaches_the_run_and_its_notification(host, stub, echo):
    avatar_id = await new_avatar(stub)
    run = await run_once(stub, avatar_id, mode="stage_failed")
    assert run.state == host_pb.STAGE_STATE_FAILED
    expected = {"code": "too_dark", "message": "the video is too dark to find a face", "advice": "film facing a window in daylight"}
    assert {"code": run.error.code, "message": run.error.message, "advice": run.error.advice} == expected
    notes = await run_notifications(stub, avatar_id, run.run_id)
    assert notes[-1].kind == "stage_failed"
    assert json.loads(notes[-1].payload_json)["error"] == expected


async def test_a_crashing_plugin_fails_the_run_with_plugin_error(host, stub, echo):
    avatar_id = await new_avatar(stub)
    run = await run_once(stub, avatar_id, mode="crash")
    assert run.state == host_pb.STAGE_STATE_FAILED
    assert run.error.code == "plugin_error"
    assert "RuntimeError: boom" in run.error.message and run.error.advice
    notes = await run_notifications(stub, avatar_id, run.run_id)
    assert notes[-1].kind == "stage_failed" and json.loads(notes[-1].payload_json)["error"]["code"] == "plugin_error"


async def test_parameters_outside_the_schema_fail_with_bad_parameters(host, stub, echo):
    avatar_id = await new_avatar(stub)
    for parameters in ({"mode": "fly"}, {"colour": "red"}, {"seconds": "long"}):
        run = await run_once(stub, avatar_id, **parameters)
        assert run.state == host_pb.STAGE_STATE_FAILED, parameters
        assert run.error.code == "bad_parameters" and run.error.advice


# ---------------------------------------------------------------------------------------------
# bad input: refused with a status and advice, nothing half written


async def test_unknown_stage_is_not_found_with_the_served_stages(host, stub, runtime, echo):
    avatar_id = await new_avatar(stub)
    before = await asyncio.to_thread(stored_state, runtime)
    error = await rejected(
        stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id=avatar_id, stage="ecco")), grpc.StatusCode.NOT_FOUND
    )
    meta = trailing(error)
    assert meta["twinforge-error-code"] == "unknown_stage" and meta["twinforge-stage"] == "ecco"
    assert "echo" in meta["twinforge-advice"]
    await nothing_written(runtime, before)


async def test_unknown_avatar_is_not_found(host, stub, runtime, echo):
    before = await asyncio.to_thread(stored_state, runtime)
    for call in (
        stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id="nobody", stage="echo")),
        stub.GetAvatar(host_pb.GetAvatarRequest(avatar_id="nobody")),
        stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id="nobody")),
    ):
        error = await rejected(call, grpc.StatusCode.NOT_FOUND)
        assert trailing(error)["twinforge-error-code"] == "unknown_avatar" and trailing(error)["twinforge-advice"]
    await nothing_written(runtime, before)


async def test_submitting_a_queued_stage_again_already_exists(host, stub, runtime, echo):
    avatar_id = await new_avatar(stub)
    first = await submit(stub, avatar_id)
    assert first.state == host_pb.STAGE_STATE_QUEUED
    before = await asyncio.to_thread(stored_state, runtime)
    error = await rejected(submit(stub, avatar_id), grpc.StatusCode.ALREADY_EXISTS)
    assert trailing(error)["twinforge-error-code"] == "stage_busy" and first.run_id in error.details()
    await nothing_written(runtime, before)


async def test_cancelling_a_finished_run_is_a_failed_precondition(host, stub, runtime, echo):
    avatar_id = await new_avatar(stub)
    run = await run_once(stub, avatar_id)
    assert run.state == host_pb.STAGE_STATE_SUCCEEDED
    before = await asyncio.to_thread(stored_state, runtime)
    error = await rejected(stub.CancelStageRun(host_pb.CancelStageRunRequest(run_id=run.run_id)), grpc.StatusCode.FAILED_PRECONDITION)
    assert trailing(error)["twinforge-error-code"] == "illegal_transition"
    assert "succeeded" in trailing(error)["twinforge-advice"]
    await nothing_written(runtime, before)
    await rejected(stub.CancelStageRun(host_pb.CancelStageRunRequest(run_id="nope")), grpc.StatusCode.NOT_FOUND)


async def test_an_oversized_message_is_refused_and_nothing_written(host, stub, runtime, echo):
    avatar_id = await new_avatar(stub)
    before = await asyncio.to_thread(stored_state, runtime)
    huge = json.dumps({"mode": "x" * (runtime.settings.max_message_bytes + 1)})
    await rejected(
        stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id=avatar_id, stage="echo", parameters_json=huge)),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )

    async def one_huge_chunk():
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind="video"))
        yield host_pb.UploadArtifactRequest(chunk=b"\0" * (runtime.settings.max_message_bytes + 1))

    await rejected(stub.UploadArtifact(one_huge_chunk()), grpc.StatusCode.RESOURCE_EXHAUSTED)
    await nothing_written(runtime, before)


async def test_parameters_that_are_not_an_object_are_invalid(host, stub, runtime, echo):
    avatar_id = await new_avatar(stub)
    before = await asyncio.to_thread(stored_state, runtime)
    for text in ("[1, 2]", '"ok"', "{not json", "3"):
        error = await rejected(
            stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id=avatar_id, stage="echo", parameters_json=text)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert trailing(error)["twinforge-error-code"] == "bad_parameters" and trailing(error)["twinforge-advice"]
    await nothing_written(runtime, before)


async def test_an_upload_over_the_limit_is_refused_and_nothing_stored(host, stub, runtime, monkeypatch):
    monkeypatch.setattr(runtime.settings, "max_upload_bytes", 10_000)
    avatar_id = await new_avatar(stub)
    before = await asyncio.to_thread(stored_state, runtime)

    async def parts(total: int):
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind="note", filename="big.txt"))
        for _ in range(total // 4096 + 1):
            yield host_pb.UploadArtifactRequest(chunk=b"v" * 4096)

    error = await rejected(stub.UploadArtifact(parts(20_000)), grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert trailing(error)["twinforge-error-code"] == "upload_too_large" and trailing(error)["twinforge-advice"]
    await nothing_written(runtime, before)
    # At the limit it is accepted.
    ok = (await stub.UploadArtifact(parts(8000))).artifact
    assert ok.size == 8192


async def test_an_upload_without_header_is_invalid(host, stub, runtime):
    avatar_id = await new_avatar(stub)
    before = await asyncio.to_thread(stored_state, runtime)

    async def chunks_only():
        yield host_pb.UploadArtifactRequest(chunk=b"data")

    async def empty():
        return
        yield

    for stream in (chunks_only(), empty()):
        error = await rejected(stub.UploadArtifact(stream), grpc.StatusCode.INVALID_ARGUMENT)
        assert trailing(error)["twinforge-error-code"] == "upload_without_header"

    async def unknown_avatar():
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id="nobody", kind="video"))
        yield host_pb.UploadArtifactRequest(chunk=b"data")

    await rejected(stub.UploadArtifact(unknown_avatar()), grpc.StatusCode.NOT_FOUND)
    await nothing_written(runtime, before)


async def test_an_upload_is_told_by_its_bytes_not_its_name(host, stub, runtime, tmp_path):
    """A PNG named holiday.mp4 is refused as a video, saying what it really is, and nothing is
    stored; a real MP4 named .png-something is taken, labelled by its bytes."""
    avatar_id = await new_avatar(stub)
    before = await asyncio.to_thread(stored_state, runtime)
    picture = b"\x89PNG\r\n\x1a\n" + bytes(200)

    async def parts(data: bytes, filename: str):
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind="video", filename=filename))
        yield host_pb.UploadArtifactRequest(chunk=data)

    error = await rejected(stub.UploadArtifact(parts(picture, "holiday.mp4")), grpc.StatusCode.INVALID_ARGUMENT)
    assert trailing(error)["twinforge-error-code"] == "upload_content_mismatch" and "image/png" in error.details()
    await nothing_written(runtime, before)
    video = (await stub.UploadArtifact(parts(write_test_video(tmp_path / "v.mp4").read_bytes(), "v.png.exe"))).artifact
    assert json.loads(video.metadata_json) == {"filename": "v.png.exe", "media_type": "video/mp4"}


# ---------------------------------------------------------------------------------------------
# services down


async def test_an_upload_with_storage_down_is_unavailable(runtime):
    """The blob store is an S3 service on a port nothing listens on (it went away after the host
    started: bootstrap itself refuses to start on an unreachable store, so the store is built
    directly): the upload fails with UNAVAILABLE naming storage, and no artifact row, notification
    or spooled file is left."""
    blobs = S3BlobStore(
        endpoint=f"127.0.0.1:{closed_port()}", access_key="k", secret_key="s", bucket="twinforge", secure=False, retries=1
    )
    without_storage = dataclasses.replace(runtime, blobs=blobs)
    async with running_host(without_storage, "127.0.0.1:0") as port, host_channel_aio(f"127.0.0.1:{port}", get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        avatar_id = await new_avatar(stub)
        before = await asyncio.to_thread(stored_state, without_storage)

        async def parts():
            yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind="note"))
            yield host_pb.UploadArtifactRequest(chunk=b"v" * 1000)

        error = await rejected(stub.UploadArtifact(parts()), grpc.StatusCode.UNAVAILABLE)
        assert "storage" in error.details()
        assert trailing(error)["twinforge-stage"] == "storage" and trailing(error)["twinforge-advice"]
        await nothing_written(without_storage, before)


async def test_submit_stage_with_redis_down_queues_the_run_for_later(runtime):
    """Redis down while a stage is submitted: the run row and its `stage_queued` notification are
    committed first, so failing the RPC would report an error for a run that exists (and a retry
    would be refused as already queued). The RPC therefore succeeds with the run QUEUED; the
    enqueue failure is only logged, and the host's recovery pass enqueues every queued run whose
    job is missing once Redis is back. Nothing is lost either way."""
    down = f"redis://127.0.0.1:{closed_port()}/0"
    settings = runtime.settings.model_copy(update={"redis_url": down})
    without_redis = dataclasses.replace(runtime, settings=settings, redis=redis.Redis.from_url(down))
    async with running_host(without_redis, "127.0.0.1:0") as port, host_channel_aio(f"127.0.0.1:{port}", get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await asyncio.to_thread(registry.register, f"127.0.0.1:{closed_port()}", Echo().describe())
        avatar_id = await new_avatar(stub)
        run = await submit(stub, avatar_id)
        assert run.state == host_pb.STAGE_STATE_QUEUED
        (listed,) = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar_id))).runs
        assert listed.run_id == run.run_id and listed.state == host_pb.STAGE_STATE_QUEUED

    # Redis is back (the runtime on the real Redis): one recovery pass enqueues the run.
    assert position(runtime.redis, job_id(run.run_id, 1)) is None
    assert run.run_id in await asyncio.to_thread(recover, runtime)
    assert position(runtime.redis, job_id(run.run_id, 1)) == (1, 1)


async def test_a_stage_cannot_take_another_avatars_artifact_as_input(host, stub, runtime, replicas, tmp_path):
    await replicas(Echo(), runtime.settings)
    mine, theirs = await new_avatar(stub), await new_avatar(stub)
    from tests.integration.test_host_flow import upload
    foreign = await upload(stub, theirs, write_test_video(tmp_path / "v.mp4"))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id=mine, stage=Echo.stages[0], inputs=[foreign]))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "not artifacts of avatar" in info.value.details()
    runs = await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=mine))
    assert list(runs.runs) == []
