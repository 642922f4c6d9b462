"""Recovery of runs whose work was lost: a worker killed mid-job, or a job lost with Redis.

The host calls `recover` every few seconds. A running run without a live lease was interrupted:
it goes back to the queue (its next attempt resumes from the last checkpoint) until its attempts
are spent. A queued run whose job is gone from Redis is enqueued again, and so is one whose job has
stayed in no queue's list for a lease's time.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from rq import Queue
from rq.job import Job
from rq.exceptions import NoSuchJobError

from host import use_cases
from host.bootstrap import Runtime
from host.state import StageState
from host.storage import models
from host.storage.models import utcnow
from scheduler.leases import held
from scheduler.queues import job_id
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

log = logging.getLogger(__name__)

SUPERSEDED = "superseded"  # what a worker's attempt ends as once another attempt took its run over


def interrupt(runtime: Runtime, run_id: str, code: str, cause: str, advice: str, attempt: int | None = None) -> str:
    """Requeues the run for another attempt, or fails it for good once attempts are spent. With
    `attempt` (a worker reporting its own attempt's end), nothing changes once another attempt has
    taken the run over."""
    with runtime.uow() as uow:
        if attempt is not None and not use_cases.still_running(run_id, attempt):
            return SUPERSEDED
        current = use_cases.locked_run(run_id)
        if current.attempt >= runtime.settings.max_attempts:
            use_cases.fail_run(
                uow,
                run_id,
                plugin_pb.StageError(code=code, message=f"{cause} (after {current.attempt} attempts)", advice=advice),
            )
            return "failed"
        requeued = use_cases.requeue_run(uow, run_id, f"{code}: {cause}")
    runtime.dispatch([requeued])
    return "requeued"


def _job_waiting(runtime: Runtime, run: models.StageRun) -> bool:
    """Whether the run's next job is still in Redis: a job marked queued must also be in its
    queue's list, since a worker stopped between taking a job and starting it leaves it in none."""
    try:
        job = Job.fetch(job_id(run.id, run.attempt + 1), connection=runtime.redis)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status == "queued":
        queue = Queue(job.origin, connection=runtime.redis)
        if any(runtime.redis.lpos(key, job.id) is not None for key in (queue.key, queue.intermediate_queue_key)):
            return True
        return not _missing_for_a_lease(runtime, job.id)
    return status in ("started", "deferred", "scheduled")


def _missing_for_a_lease(runtime: Runtime, job_id_: str) -> bool:
    """A worker that reads several queues pops its job off every list a moment before it marks the
    job started; seen in that gap the job looks lost, and enqueueing it again would put a duplicate
    at the back of the queue. So a queued job in no list counts as lost only once it has stayed so
    for a lease's time (the mark expires by itself)."""
    mark = f"twinforge:missing:{job_id_}"
    now = time.time()
    if runtime.redis.set(mark, now, nx=True, ex=int(4 * runtime.settings.lease_ttl_s) + 1):
        return False
    return now - float(runtime.redis.get(mark) or now) >= runtime.settings.lease_ttl_s


def recover(runtime: Runtime) -> list[str]:
    """One pass; returns the ids of the runs it acted on."""
    acted = []
    stale = utcnow() - dt.timedelta(seconds=runtime.settings.lease_ttl_s)
    running = models.StageRun.select().where(
        (models.StageRun.state == StageState.RUNNING.value) & (models.StageRun.updated_at < stale)
    )
    for run in running:
        if not held(runtime.redis, run.id):
            log.warning("run interrupted: its worker stopped renewing the lease", extra={"run_id": run.id})
            interrupt(
                runtime,
                run.id,
                "worker_lost",
                "the worker running this stage stopped (killed or crashed)",
                "nothing to do: the run resumes from its last checkpoint on another worker",
            )
            acted.append(run.id)
    for run in models.StageRun.select().where(models.StageRun.state == StageState.QUEUED.value):
        if not _job_waiting(runtime, run):
            runtime.dispatch([run])
            acted.append(run.id)
    return acted
