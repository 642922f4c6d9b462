"""The task waiting queue end to end: real Redis, real worker processes (`twinforge worker`), the
admin CLI as a subprocess, plugins served from this test's event loop.

Everything waits by polling with a bound, never by sleeping a fixed time, except where a test
proves that something does not happen (a paused queue is not taken from).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue, Worker
from rq.job import Job

from host.settings import Settings, get_settings
from host.storage import models
from host.channels import host_channel_aio
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
import scheduler.worker
from scheduler.pause import pause, resume
from scheduler.queues import Priority, Resource, enqueue_stage, job_id, queue_name
from scheduler.worker import QueueWorker, queue_names
from tests.fixtures.services import start_plugin
from tests.integration.test_host_flow import wait_registered
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

POLL_S = 0.1


class Sleeper(Plugin):
    """Sleeps `seconds`, reporting progress; `fail_first` fails its first attempt."""

    name = "sleeper"
    stages = ("sleep",)

    def run(self, ctx: RunContext) -> None:
        if ctx.parameters.get("fail_first") and ctx.attempt == 1:
            raise StageFailed("flaky", "the first attempt always fails", "retry it")
        seconds = float(ctx.parameters.get("seconds", 0.2))
        ctx.log(f"sleeping {seconds} s")
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ctx.progress(1 - left / seconds, "sleeping")
            time.sleep(min(left, 0.05))
        ctx.summary = {"attempt": ctx.attempt}


class GpuSleeper(Sleeper):
    name = "gpu-sleeper"
    stages = ("gpu_sleep",)
    gpus = 1


class Resumable(Plugin):
    """Saves a checkpoint at step 3 and then trains "forever"; a later attempt reports what it
    resumed from."""

    name = "resumable"
    stages = ("resumable",)

    def run(self, ctx: RunContext) -> None:
        if ctx.resume_checkpoint is not None:
            ctx.summary = {"resumed_from": ctx.resume_checkpoint.read_text(), "attempt": ctx.attempt}
            return
        checkpoint = ctx.workdir / "state"
        checkpoint.write_text("step=3")
        ctx.save_checkpoint(checkpoint)
        for _ in range(600):
            ctx.progress(0.3, "training")
            time.sleep(0.05)


class Partial(Plugin):
    """Stores a partial output, then runs until cancelled."""

    name = "partial"
    stages = ("partial",)

    def run(self, ctx: RunContext) -> None:
        partial = ctx.workdir / "partial.txt"
        partial.write_text("half done")
        ctx.save_artifact(partial, "partial.txt", "partial")
        ctx.log("partial output stored")
        for _ in range(600):
            ctx.progress(0.5, "working")
            time.sleep(0.05)


async def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(POLL_S)


def run_state(run_id: str) -> str:
    return models.StageRun.get_by_id(run_id).state


def notes(run_id: str, kind: str) -> list[models.Notification]:
    return list(
        models.Notification.select()
        .where((models.Notification.run_id == run_id) & (models.Notification.kind == kind))
        .order_by(models.Notification.global_seq)
    )


def positions(run_id: str) -> list[tuple[int, int]]:
    return [(p["position"], p["of"]) for p in (json.loads(n.payload_json) for n in notes(run_id, "stage_position"))]


def first_seq(run_id: str, kind: str) -> int:
    return notes(run_id, kind)[0].global_seq


async def cli(*args: str) -> tuple[int, str, str]:
    """`twinforge queue ...` as an operator runs it, without blocking the plugins in this loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "host.cli", "queue", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    return proc.returncode, out.decode(), err.decode()


async def cli_json(*args: str) -> Any:
    rc, out, err = await cli(*args, "--json")
    assert rc == 0, err
    return json.loads(out)


class Workers:
    """Worker processes started with `twinforge worker`, killed when the test ends."""

    def __init__(self, logs: Path, connection: redis.Redis) -> None:
        self.logs = logs
        self.connection = connection
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        before = {w.name for w in Worker.all(connection=self.connection)}
        log = open(self.logs / f"worker-{len(self.procs)}.log", "wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "host.cli", "worker", *args, stdout=log, stderr=log, env=dict(os.environ)
        )
        self.procs.append(proc)
        await until(lambda: {w.name for w in Worker.all(connection=self.connection)} - before, 15, "the worker registered")
        return proc

    def name_of(self, proc: asyncio.subprocess.Process) -> str:
        (name,) = [w.name for w in Worker.all(connection=self.connection) if w.pid == proc.pid]
        return name

    async def stop_all(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


@pytest.fixture
async def workers(settings: Settings, runtime, tmp_path: Path) -> AsyncIterator[Workers]:
    started = Workers(tmp_path, runtime.redis)
    try:
        yield started
    finally:
        await started.stop_all()


@contextlib.asynccontextmanager
async def platform(host: str, *plugins: Plugin) -> AsyncIterator[host_grpc.HostServiceStub]:
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        for plugin in plugins:
            await start_plugin(plugin, stack)
            await wait_registered(stub, plugin.stages[0])
        yield stub


async def submit(stub: host_grpc.HostServiceStub, stage: str, **parameters: Any) -> str:
    """Submits the stage for a new avatar (one active run per avatar and stage); returns the run id."""
    avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Queue test", owner="cli:queue"))).avatar
    reply = await stub.SubmitStage(
        host_pb.SubmitStageRequest(avatar_id=avatar.avatar_id, stage=stage, parameters_json=json.dumps(parameters))
    )
    return reply.run.run_id


async def test_gpu_jobs_run_one_at_a_time_and_people_see_their_place(host, runtime, workers):
    async with platform(host, GpuSleeper()) as stub:
        await workers.start("--gpu", "0")
        first = await submit(stub, "gpu_sleep", seconds=4)
        await until(lambda: run_state(first) == "running", 10, "the idle GPU worker took the first job")
        second = await submit(stub, "gpu_sleep", seconds=4)
        third = await submit(stub, "gpu_sleep", seconds=4)

        view = await cli_json("ls")
        assert (view["gpus_busy"], view["gpus_free"]) == (1, 0)
        (gpu_worker,) = view["workers"]
        assert gpu_worker["state"] == "busy" and gpu_worker["gpu"] == 0 and gpu_worker["job"] == job_id(first, 1)
        waiting = {q["name"]: q["waiting"] for q in view["queues"]}
        assert waiting[queue_name(Resource.GPU, Priority.DEFAULT)] == 2

        runs = (first, second, third)
        await until(lambda: all(run_state(r) == "succeeded" for r in runs), 30, "all three GPU jobs succeeded")

    for earlier, later in zip(runs, runs[1:]):
        assert first_seq(earlier, "stage_succeeded") < first_seq(later, "stage_running"), "one GPU runs one job at a time, in order"
    assert positions(first) == []
    assert positions(second) == [(1, 2)]
    assert positions(third) == [(2, 2), (1, 1)]


async def test_killed_worker_is_noticed_and_the_run_resumes_from_its_checkpoint(host, runtime, workers):
    async with platform(host, Resumable()) as stub:
        doomed = await workers.start("--cpu-slot", "0")
        run_id = await submit(stub, "resumable")
        await until(lambda: any(json.loads(n.payload_json)["kind"] == "checkpoint" for n in notes(run_id, "stage_artifact")), 15, "the checkpoint was stored")

        doomed.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await doomed.wait()
        await workers.start("--cpu-slot", "1")

        requeued = await until(lambda: notes(run_id, "stage_queued")[1:], 60, "the lost run was requeued")
        assert json.loads(requeued[0].payload_json)["reason"].startswith("worker_lost")
        await until(lambda: run_state(run_id) == "succeeded", 60 - (time.monotonic() - killed_at), "the run resumed and finished")
        assert time.monotonic() - killed_at < 60

    run = models.StageRun.get_by_id(run_id)
    assert json.loads(run.summary_json) == {"resumed_from": "step=3", "attempt": 2}


async def test_cancelling_a_running_job_stops_it_and_keeps_what_it_stored(host, runtime, workers):
    async with platform(host, Partial()) as stub:
        await workers.start("--cpu-slot", "0")
        run_id = await submit(stub, "partial")
        await until(lambda: notes(run_id, "stage_artifact"), 15, "the partial output was stored")

        asked_at = time.monotonic()
        rc, out, err = await cli("cancel", run_id, "--wait", "10")
        assert rc == 0, err
        assert run_state(run_id) == "cancelled"
        assert time.monotonic() - asked_at < 10

        (artifact,) = models.Artifact.select().where(models.Artifact.run == run_id)
        assert artifact.name == "partial.txt" and runtime.blobs.exists(artifact.key)

        rc, out, _ = await cli("show", job_id(run_id, 1))
        assert rc == 0 and "cancelled" in out and "partial output stored" in out

        rc, _, err = await cli("cancel", run_id)
        assert rc == 1 and "cannot become cancelled" in err


async def test_paused_queue_keeps_its_jobs_until_resumed(host, runtime, workers):
    async with platform(host, Sleeper()) as stub:
        await workers.start("--cpu-slot", "0")
        rc, out, _ = await cli("pause", "cpu-default")
        assert rc == 0 and "paused twinforge-cpu-default" in out
        run_id = await submit(stub, "sleep")

        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            assert run_state(run_id) == "queued", "a worker took a job from a paused queue"
            await asyncio.sleep(POLL_S)
        dropped = await submit(stub, "sleep")
        rc, out, err = await cli("cancel", dropped)
        assert rc == 0 and "is cancelled" in out, err
        view = await cli_json("ls")
        (default,) = [q for q in view["queues"] if q["name"] == "twinforge-cpu-default"]
        assert default["paused"] and default["waiting"] == 1, "the cancelled job left its queue, the other stayed"

        rc, out, _ = await cli("resume", "twinforge-cpu-default")
        assert rc == 0 and "resumed" in out
        await until(lambda: run_state(run_id) == "succeeded", 10, "the resumed queue's job ran")

        rc, _, err = await cli("pause", "gpu-urgent")
        assert rc == 1 and "there is no queue 'gpu-urgent'" in err and "twinforge-gpu-high" in err


async def test_drained_worker_finishes_its_job_and_takes_no_other(host, runtime, workers):
    async with platform(host, Sleeper()) as stub:
        proc = await workers.start("--cpu-slot", "0")
        name = workers.name_of(proc)
        busy = await submit(stub, "sleep", seconds=1.5)
        await until(lambda: run_state(busy) == "running", 10, "the worker took the job")

        rc, out, err = await cli("drain", name)
        assert rc == 0 and f"draining {name}" in out, err
        later = await submit(stub, "sleep")
        # the worker's exit takes seconds when idle, past 15 s when the machine is loaded (CI's full suite)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        assert run_state(busy) == "succeeded"
        assert run_state(later) == "queued"

        rc, _, err = await cli("drain", "no-such-worker")
        assert rc == 1 and "no worker no-such-worker" in err and "twinforge queue ls" in err


async def test_failed_jobs_are_retried_and_purged(host, runtime, workers):
    async with platform(host, Sleeper()) as stub:
        await workers.start("--cpu-slot", "0")
        runs = [await submit(stub, "sleep", fail_first=True) for _ in range(3)]
        await until(lambda: all(run_state(r) == "failed" for r in runs), 15, "the first attempts failed")

        rc, out, _ = await cli("show", runs[0])
        assert rc == 0 and "flaky: the first attempt always fails" in out and "1 of 3" in out

        rc, out, err = await cli("retry", job_id(runs[0], 1))
        assert rc == 0 and f"retried {runs[0]}" in out, err
        await until(lambda: run_state(runs[0]) == "succeeded", 10, "the retried job succeeded")

        listed = await cli_json("jobs", "--state", "failed")
        assert sorted(j["run_id"] for j in listed) == sorted(runs[1:])
        result = await cli_json("retry", "--failed")
        assert sorted(result["retried"]) == sorted(runs[1:])
        await until(lambda: all(run_state(r) == "succeeded" for r in runs), 10, "every retried job succeeded")
        assert [n.kind for n in notes(runs[1], "stage_queued")] == ["stage_queued", "stage_queued"]

        rc, _, err = await cli("retry", runs[0])
        assert rc == 1 and "only failed jobs are retried" in err
        rc, _, err = await cli("show", "abc")
        assert rc == 1 and "no job abc" in err and "twinforge queue jobs" in err

        doomed = await submit(stub, "sleep", fail_first=True)
        await until(lambda: run_state(doomed) == "failed", 10, "the job failed")
        assert (await cli_json("purge", "--failed", "--older-than", "1h")) == {"runs": 0, "jobs": 0}
        purged = await cli_json("purge", "--failed", "--older-than", "0s")
        assert purged["runs"] == 1
        assert models.StageRun.get_or_none(models.StageRun.id == doomed) is None
        assert notes(doomed, "stage_purged")
        rc, _, err = await cli("purge", "--failed", "--older-than", "soon")
        assert rc == 1 and "45s, 30m, 12h, 7d or 2w" in err


async def test_a_waiting_job_moves_to_another_priority(host, runtime, workers):
    async with platform(host, Sleeper()) as stub:
        runs = [await submit(stub, "sleep") for _ in range(3)]
        urgent = runs[2]
        rc, out, err = await cli("move", urgent, "--priority", "high")
        assert rc == 0 and "to the back of twinforge-cpu-high" in out, err
        assert models.StageRun.get_by_id(urgent).priority == "high"
        assert notes(urgent, "stage_priority_changed")

        queued = {j["run_id"]: j for j in await cli_json("jobs", "--state", "queued")}
        assert queued[urgent]["queue"] == "twinforge-cpu-high" and queued[urgent]["position"] == [1, 3]
        assert queued[runs[0]]["position"] == [2, 3]
        await until(lambda: positions(urgent)[-1:] == [(1, 3)], 10, "the moved job's person was told the new place")

        await workers.start("--cpu-slot", "0")
        await until(lambda: all(run_state(r) == "succeeded" for r in runs), 15, "every job ran")
        assert first_seq(urgent, "stage_running") < first_seq(runs[0], "stage_running") < first_seq(runs[1], "stage_running")

        rc, _, err = await cli("move", urgent, "--priority", "low")
        assert rc == 1 and "not waiting" in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_private_redis_restart_keeps_the_queue(tmp_path: Path):
    from host.supervisor import start_private_redis

    private = Settings(data_dir=tmp_path, redis_url="", private_redis_port=free_port())
    logs = tmp_path / "logs"
    logs.mkdir()
    server = start_private_redis(private, logs)
    try:
        connection = redis.Redis.from_url(private.resolved_redis_url)
        jobs = [enqueue_stage(connection, f"run{i}", 1, Resource.GPU) for i in range(3)]
        server.stop()
        server = start_private_redis(private, logs)
        assert Queue(queue_name(Resource.GPU, Priority.DEFAULT), connection=connection).get_job_ids() == jobs
    finally:
        server.stop()


async def test_recovery_enqueues_a_queued_run_whose_job_was_lost(host, runtime):
    async with platform(host, Sleeper()) as stub:
        run_id = await submit(stub, "sleep")
        lost = Job.fetch(job_id(run_id, 1), connection=runtime.redis)
        runtime.redis.delete(Queue(lost.origin, connection=runtime.redis).key, lost.key)

        def waiting_again() -> bool:
            return Queue(lost.origin, connection=runtime.redis).get_job_ids() == [lost.id]

        await until(waiting_again, 15, "the host's recovery loop enqueued the lost job again")


def test_a_worker_takes_nothing_from_a_paused_queue_even_mid_take(redis_url: str, monkeypatch: pytest.MonkeyPatch):
    connection = redis.Redis.from_url(redis_url)
    queues = [Queue(name, connection=connection) for name in queue_names(Resource.CPU, gpu_stages_on_cpu=False)]
    worker = QueueWorker(queues, connection=connection, name="twinforge-cpu9-test")
    default = Queue(queue_name(Resource.CPU, Priority.DEFAULT), connection=connection)
    jobs = [enqueue_stage(connection, run, 1, Resource.CPU) for run in ("first", "second")]

    pause(connection, default.name)
    assert worker._take(None) is None and default.get_job_ids() == jobs

    views = iter([set(), {default.name}])
    monkeypatch.setattr(scheduler.worker, "paused", lambda _: next(views))
    assert worker._take(None) is None, "the queue was paused while the take blocked"
    assert default.get_job_ids() == jobs, "the job went back to the head of its queue"
    monkeypatch.undo()

    resume(connection, default.name)
    for other in (Priority.HIGH, Priority.LOW):
        pause(connection, queue_name(Resource.CPU, other))
    job, taken_from = worker._take(None)
    assert (job.id, taken_from.name) == (jobs[0], default.name)
    assert connection.llen(default.intermediate_queue_key) == 0, "a lone open queue leaves nothing in RQ's intermediate list"
