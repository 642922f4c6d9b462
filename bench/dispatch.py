"""What the task waiting queue costs: a stage submitted through the host and RQ against the same
plugin called directly over gRPC, measured in the same run.

    .venv/bin/python -m bench.dispatch [--latency-runs 100] [--jobs 200]

It starts its own host (SQLite in a temporary directory, Redis at 127.0.0.1:6379 on a free database
number, flushed afterwards), a trivial plugin in the same process and one CPU worker process, then
reports:
- dispatch latency: SubmitStage sent -> the plugin's `run` starts, with the worker idle (p50, p95);
  direct: Run sent -> `run` starts;
- throughput: the time for N small jobs submitted at once until all succeeded; direct: N Run calls
  one after another (one plugin serves one run at a time, as one worker does).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import grpc
import redis
from rq import Worker

from host.auth import ensure_key_file
from host.bootstrap import bootstrap
from host.channels import host_channel_aio
from host.server import running_host
from host.settings import get_settings
from host.state import StageState
from host.storage import models
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import running_plugin
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb
from twinforge.plugin.v1 import plugin_service_pb2_grpc as plugin_grpc

REDIS = "redis://127.0.0.1:6379"
LOCK_KEY = "twinforge:bench-lock"
STAGE = "noop"
POLL_S = 0.002


class Noop(Plugin):
    """Does nothing but note when each run started."""

    name = "noop"
    stages = (STAGE,)

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def run(self, ctx: RunContext) -> None:
        self.started[ctx.run_id] = time.perf_counter()


@contextmanager
def free_redis_db() -> Iterator[str]:
    """An empty database number on the local Redis, claimed with a lock key and flushed after."""
    for db in range(1, 16):
        client = redis.Redis.from_url(f"{REDIS}/{db}")
        if client.set(LOCK_KEY, "1", nx=True, ex=3600) and client.dbsize() == 1:
            try:
                yield f"{REDIS}/{db}"
            finally:
                client.flushdb()
            return
    raise click.ClickException(f"no empty Redis database number on {REDIS}")


async def until(check, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise click.ClickException("the benchmark stalled: no progress within a minute")
        await asyncio.sleep(POLL_S)


def succeeded(run_ids: list[str]) -> bool:
    done = models.StageRun.select().where(
        models.StageRun.id.in_(run_ids) & (models.StageRun.state == StageState.SUCCEEDED.value)
    )
    return done.count() == len(run_ids)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def avatars(stub: host_grpc.HostServiceStub, count: int) -> list[str]:
    """One avatar per job: an avatar has at most one active run of a stage."""
    return [
        (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name=f"bench {i}", owner="cli:bench"))).avatar.avatar_id
        for i in range(count)
    ]


async def submit(stub: host_grpc.HostServiceStub, avatar_id: str) -> str:
    return (await stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id=avatar_id, stage=STAGE))).run.run_id


async def queued_latency(stub: host_grpc.HostServiceStub, plugin: Noop, runs: int) -> list[float]:
    latencies = []
    for avatar_id in await avatars(stub, runs):
        sent = time.perf_counter()
        run_id = await submit(stub, avatar_id)
        await until(lambda: run_id in plugin.started)
        latencies.append(plugin.started[run_id] - sent)
        await until(lambda: succeeded([run_id]))
    return latencies


async def direct_run(stub: plugin_grpc.PluginServiceStub, run_id: str) -> None:
    async for _ in stub.Run(plugin_pb.RunRequest(avatar_id="bench", stage=STAGE, run_id=run_id, attempt=1)):
        pass


async def direct_latency(stub: plugin_grpc.PluginServiceStub, plugin: Noop, runs: int) -> list[float]:
    latencies = []
    for i in range(runs):
        run_id = f"direct-latency-{i}"
        sent = time.perf_counter()
        await direct_run(stub, run_id)
        latencies.append(plugin.started[run_id] - sent)
    return latencies


async def queued_batch(stub: host_grpc.HostServiceStub, jobs: int) -> float:
    owners = await avatars(stub, jobs)
    began = time.perf_counter()
    run_ids = [await submit(stub, avatar_id) for avatar_id in owners]
    await until(lambda: succeeded(run_ids), timeout_s=120)
    return time.perf_counter() - began


async def direct_batch(stub: plugin_grpc.PluginServiceStub, jobs: int) -> float:
    began = time.perf_counter()
    for i in range(jobs):
        await direct_run(stub, f"direct-batch-{i}")
    return time.perf_counter() - began


async def start_worker(logs: Path, connection: redis.Redis) -> asyncio.subprocess.Process:
    log = open(logs / "worker.log", "wb")
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "host.cli", "worker", "--cpu-slot", "0", stdout=log, stderr=log, env=dict(os.environ)
    )
    await until(lambda: Worker.all(connection=connection), timeout_s=30)
    return worker


async def measure(latency_runs: int, jobs: int, database_url: str) -> dict[str, tuple[float, float]]:
    with free_redis_db() as redis_url, tempfile.TemporaryDirectory(prefix="twinforge-bench-") as tmp:
        os.environ.update(
            TWINFORGE_DATA_DIR=tmp, TWINFORGE_REDIS_URL=redis_url, TWINFORGE_DATABASE_URL=database_url, TWINFORGE_HOST_ADDRESS="127.0.0.1:0",
            # one operator submits every job: what is measured is dispatch, not one person's share
            TWINFORGE_MAX_AVATARS_PER_PERSON=str(10 * (latency_runs + jobs)), TWINFORGE_MAX_ACTIVE_RUNS_PER_PERSON=str(10 * (latency_runs + jobs)),
        )
        get_settings.cache_clear()
        runtime = bootstrap(get_settings())
        ensure_key_file(runtime.settings.operator_key_file, "cli:bench", "operator", "bench")  # host_channel_aio sends it
        async with running_host(runtime, "127.0.0.1:0") as port:
            os.environ["TWINFORGE_HOST_ADDRESS"] = f"127.0.0.1:{port}"
            get_settings.cache_clear()
            runtime.settings = get_settings()
            plugin = Noop()
            async with running_plugin(plugin, runtime.settings) as address, host_channel_aio(
                runtime.settings.host_address, runtime.settings
            ) as host_channel, grpc.aio.insecure_channel(address) as plugin_channel:
                host = host_grpc.HostServiceStub(host_channel)
                direct = plugin_grpc.PluginServiceStub(plugin_channel)
                await until(lambda: models.Plugin.select().where(models.Plugin.healthy == True).exists())  # noqa: E712
                worker = await start_worker(Path(tmp), runtime.redis)
                try:
                    await queued_latency(host, plugin, 3)
                    await direct_latency(direct, plugin, 3)
                    queued = await queued_latency(host, plugin, latency_runs)
                    straight = await direct_latency(direct, plugin, latency_runs)
                    batch = await queued_batch(host, jobs)
                    straight_batch = await direct_batch(direct, jobs)
                finally:
                    worker.terminate()
                    await worker.wait()
    return {
        "dispatch latency p50 (ms)": (percentile(queued, 0.5) * 1e3, percentile(straight, 0.5) * 1e3),
        "dispatch latency p95 (ms)": (percentile(queued, 0.95) * 1e3, percentile(straight, 0.95) * 1e3),
        f"{jobs} small jobs (s)": (batch, straight_batch),
        "per job (ms)": (batch / jobs * 1e3, straight_batch / jobs * 1e3),
        "latency mean (ms)": (statistics.mean(queued) * 1e3, statistics.mean(straight) * 1e3),
    }


@click.command()
@click.option("--latency-runs", default=100, show_default=True, help="Submissions timed one at a time, worker idle.")
@click.option("--jobs", default=200, show_default=True, help="Small jobs submitted at once.")
@click.option("--database-url", default="", help="peewee URL of an empty database; empty: SQLite in a temporary directory.")
def main(latency_runs: int, jobs: int, database_url: str) -> None:
    """Queue (host + RQ + one worker) against direct gRPC calls to the same plugin."""
    results = asyncio.run(measure(latency_runs, jobs, database_url))
    click.echo(f"{'':<28}{'queue':>12}{'direct gRPC':>14}{'ratio':>9}")
    for name, (queued, direct) in results.items():
        click.echo(f"{name:<28}{queued:>12.2f}{direct:>14.2f}{queued / direct:>8.1f}x")


if __name__ == "__main__":
    main()
