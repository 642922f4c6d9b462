"""A run's lease belongs to the worker that took it, and a job a worker is taking is not lost.

Found by the load test (tests/load): under load the recovery pass saw a job a worker had just
popped (RQ removes it from every list a moment before marking it started), enqueued it again, and
the duplicate overwrote the live lease and deleted it when it was skipped, so a healthy run could be
interrupted and run twice. Real Redis, real queues; the worker's pop is done here with LPOP as RQ
does it."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from rq import Queue
from rq.job import Job

from host import use_cases
from scheduler import jobs
from scheduler.leases import Lease, LeaseTaken, held, lease_key
from scheduler.queues import job_id, position
from host.storage import models
from scheduler.recovery import SUPERSEDED, recover
from tests.integration.test_scheduler import Sleeper, notes, platform, submit, until


def test_a_second_holder_neither_takes_nor_releases_a_live_lease(redis_url) -> None:
    connection = redis.Redis.from_url(redis_url)
    with Lease(connection, "run-1", "worker-a:1", ttl_s=2.0):
        with pytest.raises(LeaseTaken, match="worker-a:1"):
            Lease(connection, "run-1", "worker-b:2", ttl_s=2.0).__enter__()
        stranger = Lease(connection, "run-1", "worker-b:2", ttl_s=2.0)
        stranger._thread.start()
        stranger.__exit__()  # its way out must not delete worker-a's lease
        assert connection.get(lease_key("run-1")) == b"worker-a:1"
        time.sleep(2.5)  # renewed by its holder past its first ttl
        assert held(connection, "run-1")
    assert not held(connection, "run-1")


def queued_run(runtime) -> str:
    """A queued run of a stage and its job in the CPU queue, as SubmitStage leaves them."""
    with runtime.uow() as uow:
        avatar = use_cases.create_avatar(uow, "cli:lease", "Lease")
        run = use_cases.submit_stage(uow, avatar.id, "sleep", [], {"seconds": 0.1}, {"sleep"})
    runtime.dispatch([run])
    return run.id


def test_a_job_a_worker_is_taking_is_not_enqueued_again(runtime) -> None:
    run_id = queued_run(runtime)
    job = Job.fetch(job_id(run_id, 1), connection=runtime.redis)
    assert position(runtime.redis, job.id) == (1, 1)
    runtime.redis.lrem(Queue(job.origin, connection=runtime.redis).key, 0, job.id)  # popped, not yet started

    assert run_id not in recover(runtime), "a job seen out of its list once is being taken, not lost"
    assert position(runtime.redis, job.id) is None
    time.sleep(runtime.settings.lease_ttl_s + 0.2)
    assert run_id in recover(runtime), "still in no list a lease later: lost, so enqueued again"
    assert position(runtime.redis, job.id) == (1, 1)


def test_a_duplicate_job_is_skipped_and_leaves_the_live_lease(runtime) -> None:
    run_id = queued_run(runtime)
    runtime.redis.set(lease_key(run_id), "another-worker:7", px=5000)
    assert jobs.run_stage(run_id) == "skipped"
    assert runtime.redis.get(lease_key(run_id)) == b"another-worker:7"


async def test_a_worker_whose_run_was_taken_over_stops_and_records_nothing_more(host, runtime) -> None:
    """A worker cut off from Redis and the database (its network link down) loses its run: the lease
    expires, the recovery pass requeues it, another worker starts attempt 2. When the link comes
    back, the first worker is still streaming attempt 1's events; it must cancel its plugin call and
    record none of them, nor end the run that now belongs to attempt 2."""
    async with platform(host, Sleeper()) as stub:
        run_id = await submit(stub, "sleep", seconds=30)
        first = asyncio.create_task(asyncio.to_thread(jobs.run_stage, run_id))
        await until(lambda: notes(run_id, "stage_progress"), 20, "attempt 1 reports progress")
        with runtime.uow() as uow:  # what the recovery pass and a second worker do meanwhile
            use_cases.requeue_run(uow, run_id, "worker_lost: test")
            use_cases.start_run(uow, run_id)
        taken_over = models.Notification.select().where(models.Notification.run_id == run_id).count()

        assert await asyncio.wait_for(first, 10) == SUPERSEDED
        run = models.StageRun.get_by_id(run_id)
        assert (run.state, run.attempt) == ("running", 2)
        assert models.Notification.select().where(models.Notification.run_id == run_id).count() == taken_over
