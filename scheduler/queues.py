"""The task waiting queue: RQ queues by resource and priority, and a stage run's place in them.

Jobs carry only the run id; parameters, inputs and checkpoints are read from the database by the
job, and blobs never pass through Redis.
"""

from __future__ import annotations

from enum import Enum

import redis
from rq import Queue

from host.errors import InvalidArgument, Unavailable

JOB_FUNCTION = "scheduler.jobs.run_stage"
JOB_TIMEOUT_S = 24 * 3600


class Resource(str, Enum):
    GPU = "gpu"
    CPU = "cpu"


class Priority(str, Enum):
    HIGH = "high"
    DEFAULT = "default"
    LOW = "low"


def queue_name(resource: Resource, priority: Priority) -> str:
    return f"twinforge-{resource.value}-{priority.value}"


def queues_for(resource: Resource, connection: redis.Redis) -> list[Queue]:
    """A resource's queues in the order a worker drains them: high first."""
    return [Queue(queue_name(resource, p), connection=connection) for p in Priority]


def all_queues(connection: redis.Redis) -> list[Queue]:
    return [q for r in Resource for q in queues_for(r, connection)]


def parse_priority(value: str) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        raise InvalidArgument(
            stage="queue",
            code="bad_priority",
            cause=f"unknown priority {value!r}",
            advice="use one of: " + ", ".join(p.value for p in Priority),
        ) from None


def job_id(run_id: str, attempt: int) -> str:
    return f"{run_id}-{attempt}"


def enqueue_stage(
    connection: redis.Redis, run_id: str, attempt: int, resource: Resource, priority: Priority = Priority.DEFAULT
) -> str:
    """Queues the next attempt of a run; enqueuing the same attempt twice is harmless."""
    queue = Queue(queue_name(resource, priority), connection=connection)
    try:
        job = queue.enqueue(
            JOB_FUNCTION,
            run_id,
            job_id=job_id(run_id, attempt),
            job_timeout=JOB_TIMEOUT_S,
            result_ttl=7 * 24 * 3600,
            failure_ttl=30 * 24 * 3600,
            meta={"run_id": run_id, "attempt": attempt, "resource": resource.value, "priority": priority.value},
        )
    except redis.RedisError as exc:
        raise Unavailable(
            stage="queue",
            code="redis_unavailable",
            cause=f"the queue (Redis) is unreachable: {exc}",
            advice="check that Redis is running; queued runs are enqueued again when it is back",
        ) from exc
    return job.id


def position(connection: redis.Redis, job: str) -> tuple[int, int] | None:
    """(1-based place, jobs waiting) across the job's resource queues in the order workers take
    them, or None when the job is not waiting."""
    for resource in Resource:
        waiting: list[str] = []
        for queue in queues_for(resource, connection):
            waiting.extend(queue.get_job_ids())
        if job in waiting:
            return waiting.index(job) + 1, len(waiting)
    return None


def dispatch(connection: redis.Redis, run_id: str, stage: str, attempt: int, priority: str) -> str:
    """Enqueues a run's next attempt on the queue its plugin's resources call for."""
    from host.registry import needs_gpu

    resource = Resource.GPU if needs_gpu(stage) else Resource.CPU
    return enqueue_stage(connection, run_id, attempt + 1, resource, parse_priority(priority))
