"""The task waiting queue: RQ queues by resource and priority, and a stage run's place in them.

Jobs carry only the run id; parameters, inputs and checkpoints are read from the database by the
job, and blobs never pass through Redis.
"""

from __future__ import annotations

from enum import Enum

import redis
from rq import Queue
from rq.job import Job

from host.errors import InvalidArgument, Unavailable
from host.registry import needs_gpu

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


def waiting_ids(connection: redis.Redis, resource: Resource) -> list[str]:
    """The job ids waiting for a resource, in the order its workers take them (high first)."""
    with connection.pipeline(transaction=True) as pipe:
        for queue in queues_for(resource, connection):
            pipe.lrange(queue.key, 0, -1)
        lists = pipe.execute()
    return [job.decode() for ids in lists for job in ids]


def position(connection: redis.Redis, job: str) -> tuple[int, int] | None:
    """(1-based place, jobs waiting) across the job's resource queues in the order workers take
    them, or None when the job is not waiting."""
    for resource in Resource:
        waiting = waiting_ids(connection, resource)
        if job in waiting:
            return waiting.index(job) + 1, len(waiting)
    return None


def parse_queue(name: str) -> tuple[Resource, Priority]:
    """A queue named in full (twinforge-gpu-high) or short (gpu-high)."""
    for resource in Resource:
        for priority in Priority:
            if name in (queue_name(resource, priority), f"{resource.value}-{priority.value}"):
                return resource, priority
    raise InvalidArgument(
        stage="queue",
        code="unknown_queue",
        cause=f"there is no queue {name!r}",
        advice="use one of: " + ", ".join(queue_name(r, p) for r in Resource for p in Priority),
    )


# Moves a waiting job id between two queue lists and records its new origin, atomically: a worker
# either took the job before (nothing moves) or finds it in the new queue.
_MOVE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'origin', ARGV[2])
return 1
"""


def move(connection: redis.Redis, job: Job, target: str) -> bool:
    """Moves a waiting job to the back of the `target` queue; False when it is no longer waiting."""
    source = Queue(job.origin, connection=connection)
    destination = Queue(target, connection=connection)
    moved = connection.eval(_MOVE, 3, source.key, destination.key, job.key, job.id, target)
    if moved:
        job.origin = target
        job.meta["priority"] = parse_queue(target)[1].value
        job.save_meta()
    return bool(moved)


def dispatch(connection: redis.Redis, run_id: str, stage: str, attempt: int, priority: str) -> str:
    """Enqueues a run's next attempt on the queue its plugin's resources call for."""
    resource = Resource.GPU if needs_gpu(stage) else Resource.CPU
    return enqueue_stage(connection, run_id, attempt + 1, resource, parse_priority(priority))
