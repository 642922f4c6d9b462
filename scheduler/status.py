"""The read side of the queue for operators: queues and their depths, workers and GPUs, jobs.

A job is one attempt of a stage run. The run in the database is the truth about a job's state;
Redis adds where it waits (queue and place) or who runs it (worker).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from enum import Enum

from rq import Worker
from rq.job import Job

from host.bootstrap import Runtime
from host.errors import NotFound
from host.state import StageState
from host.storage import models
from host.storage.models import utcnow
from scheduler.pause import paused
from scheduler.positions import places
from scheduler.queues import Priority, Resource, all_queues, job_id, parse_queue, queue_name
from scheduler.worker import BEAT_S

LOST_AFTER_S = 3 * BEAT_S
"""A worker silent this long was killed or lost its connection; RQ forgets it a minute later."""

LOG_KINDS = ("stage_log", "stage_progress")

_GPU_WORKER = re.compile(r"^twinforge-gpu(\d+)-")
GPU_QUEUES = frozenset(queue_name(Resource.GPU, p) for p in Priority)


class JobState(str, Enum):
    PENDING = "pending"
    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


JOB_STATES: dict[StageState, JobState] = {
    StageState.PENDING: JobState.PENDING,
    StageState.QUEUED: JobState.QUEUED,
    StageState.RUNNING: JobState.STARTED,
    StageState.WAITING_FOR_USER: JobState.FINISHED,
    StageState.SUCCEEDED: JobState.FINISHED,
    StageState.FAILED: JobState.FAILED,
    StageState.CANCELLED: JobState.CANCELLED,
}


@dataclass
class QueueRow:
    name: str
    resource: str
    priority: str
    waiting: int
    running: int
    paused: bool


@dataclass
class WorkerRow:
    name: str
    state: str
    resource: str
    gpu: int | None
    hostname: str
    pid: int
    job: str
    last_seen: dt.datetime | None


@dataclass
class GpuRow:
    hostname: str
    index: int
    state: str
    worker: str


@dataclass
class Overview:
    queues: list[QueueRow]
    workers: list[WorkerRow]
    gpus: list[GpuRow]

    @property
    def gpus_busy(self) -> int:
        return sum(g.state == "busy" for g in self.gpus)

    @property
    def gpus_free(self) -> int:
        return sum(g.state == "idle" for g in self.gpus)


@dataclass
class JobRow:
    job: str
    run_id: str
    stage: str
    avatar_id: str
    state: JobState
    run_state: str
    attempt: int
    priority: str
    queue: str
    position: tuple[int, int] | None
    worker: str
    updated_at: dt.datetime


@dataclass
class JobDetail:
    row: JobRow
    avatar_name: str
    max_attempts: int
    created_at: dt.datetime
    error: dict[str, str]
    checkpoint: str
    log: list[str] = field(default_factory=list)


def find_run(ref: str) -> models.StageRun:
    """A job given as its RQ job id (<run>-<attempt>) or as its stage run's id."""
    run = models.StageRun.get_or_none(models.StageRun.id == ref)
    run_id, _, attempt = ref.rpartition("-")
    if run is None and attempt.isdigit():
        run = models.StageRun.get_or_none(models.StageRun.id == run_id)
    if run is None:
        raise NotFound(
            stage="queue",
            code="unknown_job",
            cause=f"no job {ref}",
            advice="list jobs with `twinforge queue jobs` and pass a JOB or RUN id from it",
        )
    return run


def current_job_id(run: models.StageRun) -> str:
    """The job of the run's next attempt while it waits, else of its last attempt."""
    waiting = run.state in (StageState.PENDING.value, StageState.QUEUED.value) or run.attempt == 0
    return job_id(run.id, run.attempt + 1 if waiting else run.attempt)


def worker_rows(runtime: Runtime) -> list[WorkerRow]:
    rows = []
    lost_before = utcnow() - dt.timedelta(seconds=LOST_AFTER_S)
    for worker in Worker.all(connection=runtime.redis):
        gpu = _GPU_WORKER.match(worker.name)
        only_gpu = set(worker.queue_names()) <= GPU_QUEUES
        last_seen = worker.last_heartbeat.replace(tzinfo=None) if worker.last_heartbeat else None
        state = str(getattr(worker.get_state(), "value", worker.get_state()))
        rows.append(
            WorkerRow(
                name=worker.name,
                state="lost" if last_seen is None or last_seen < lost_before else state,
                resource=(Resource.GPU if only_gpu else Resource.CPU).value,
                gpu=int(gpu.group(1)) if gpu and only_gpu else None,
                hostname=worker.hostname or "",
                pid=worker.pid or 0,
                job=worker.get_current_job_id() or "",
                last_seen=last_seen,
            )
        )
    return sorted(rows, key=lambda w: w.name)


def overview(runtime: Runtime) -> Overview:
    """`twinforge queue ls`: every queue's depth, every worker, and the GPUs their workers serve."""
    workers = worker_rows(runtime)
    running_jobs = [w.job for w in workers if w.state == "busy" and w.job]
    origins = [j.origin for j in Job.fetch_many(running_jobs, connection=runtime.redis) if j is not None]
    stopped = paused(runtime.redis)
    queues = []
    for queue in all_queues(runtime.redis):
        resource, priority = parse_queue(queue.name)
        queues.append(
            QueueRow(
                name=queue.name,
                resource=resource.value,
                priority=priority.value,
                waiting=queue.count,
                running=origins.count(queue.name),
                paused=queue.name in stopped,
            )
        )
    gpus = [
        GpuRow(hostname=w.hostname, index=w.gpu, state=w.state, worker=w.name)
        for w in workers
        if w.gpu is not None
    ]
    return Overview(queues=queues, workers=workers, gpus=sorted(gpus, key=lambda g: (g.hostname, g.index)))


def job_rows(runtime: Runtime, runs: list[models.StageRun]) -> list[JobRow]:
    """Runs as jobs, with their queue, place and worker from Redis."""
    queued_jobs = {
        job_id(r.id, r.attempt + 1)
        for r in models.StageRun.select(models.StageRun.id, models.StageRun.attempt).where(
            models.StageRun.state == StageState.QUEUED.value
        )
    }
    place = places(runtime, queued_jobs)
    ids = [current_job_id(r) for r in runs]
    jobs = Job.fetch_many(ids, connection=runtime.redis)
    rows = []
    for run, jid, job in zip(runs, ids, jobs):
        state = JOB_STATES[StageState(run.state)]
        rows.append(
            JobRow(
                job=jid,
                run_id=run.id,
                stage=run.stage,
                avatar_id=run.avatar_id,
                state=state,
                run_state=run.state,
                attempt=run.attempt,
                priority=run.priority,
                queue=job.origin if job is not None else "",
                position=place.get(jid) if state == JobState.QUEUED else None,
                worker=(job.worker_name or "") if job is not None and state == JobState.STARTED else "",
                updated_at=run.updated_at,
            )
        )
    return rows


def list_jobs(runtime: Runtime, state: JobState | None = None, limit: int = 100) -> list[JobRow]:
    """`twinforge queue jobs`: the most recently changed jobs first."""
    query = models.StageRun.select().order_by(models.StageRun.updated_at.desc()).limit(limit)
    if state is not None:
        query = query.where(models.StageRun.state.in_([s.value for s, j in JOB_STATES.items() if j == state]))
    return job_rows(runtime, list(query))


def job_detail(runtime: Runtime, ref: str, lines: int = 10) -> JobDetail:
    """`twinforge queue show`: everything an operator asks about one job, with its log tail."""
    run = find_run(ref)
    (row,) = job_rows(runtime, [run])
    notes = (
        models.Notification.select()
        .where((models.Notification.run_id == run.id) & (models.Notification.kind.in_(LOG_KINDS)))
        .order_by(models.Notification.global_seq.desc())
        .limit(lines)
    )
    checkpoint = json.loads(run.checkpoint_json)[0]["key"] if run.checkpoint_json else ""
    return JobDetail(
        row=row,
        avatar_name=run.avatar.name,
        max_attempts=runtime.settings.max_attempts,
        created_at=run.created_at,
        error=json.loads(run.error_json) if run.error_json else {},
        checkpoint=checkpoint,
        log=[_log_line(n) for n in reversed(list(notes))],
    )


def _log_line(note: models.Notification) -> str:
    payload = json.loads(note.payload_json)
    when = note.created_at.strftime("%H:%M:%S")
    if note.kind == "stage_progress":
        return f"{when} progress {payload.get('fraction', 0):.0%} {payload.get('message', '')}".rstrip()
    return f"{when} {payload.get('level', 'info')} {payload.get('message', '')}"
