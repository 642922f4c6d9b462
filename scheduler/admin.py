"""The write side of the queue for operators: retry, cancel, move, pause, drain and purge.

Every change to a run goes through the host's use cases (host/use_cases.py), so the person sees it as a notification
exactly as if the platform had made it; Redis is changed only after the database agrees.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from rq import Worker
from rq.command import send_shutdown_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from host import use_cases
from host.bootstrap import Runtime
from host.errors import AlreadyExists, IllegalTransition, InvalidArgument, NotFound
from host.state import ACTIVE_VALUES, StageState
from host.storage import models
from host.storage.models import utcnow
from scheduler import pause as pausing
from scheduler.queues import Priority, all_queues, job_id, move as move_job, parse_queue, queue_name
from scheduler.status import current_job_id, find_run

_AGE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass
class Skipped:
    run_id: str
    reason: str


@dataclass
class Purged:
    runs: int
    jobs: int


def parse_age(text: str) -> dt.timedelta:
    """`7d`, `12h`, `30m`, `45s`, `2w`."""
    match = _AGE.match(text.strip())
    if match is None:
        raise InvalidArgument(
            stage="queue",
            code="bad_age",
            cause=f"{text!r} is not an age",
            advice="write a number and a unit: 45s, 30m, 12h, 7d or 2w",
        )
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def retry(runtime: Runtime, ref: str) -> models.StageRun:
    """A failed run goes back to the queue for one more attempt from its last checkpoint."""
    run = find_run(ref)
    if run.state != StageState.FAILED.value:
        raise IllegalTransition(
            stage=run.stage,
            code="not_failed",
            cause=f"job {ref} is {run.state}; only failed jobs are retried",
            advice="list the failed jobs with `twinforge queue jobs --state failed`",
        )
    _refuse_if_stage_busy(run)
    with runtime.uow() as uow:
        requeued = use_cases.requeue_run(uow, run.id, "retried by an operator")
    runtime.dispatch([requeued])
    return requeued


def retry_failed(runtime: Runtime) -> tuple[list[models.StageRun], list[Skipped]]:
    """Retries every failed run; a run whose stage was submitted again meanwhile is skipped."""
    retried, skipped = [], []
    failed = models.StageRun.select(models.StageRun.id).where(models.StageRun.state == StageState.FAILED.value)
    for run in failed.order_by(models.StageRun.updated_at):
        try:
            retried.append(retry(runtime, run.id))
        except (AlreadyExists, IllegalTransition) as exc:
            skipped.append(Skipped(run.id, exc.cause))
    return retried, skipped


def _refuse_if_stage_busy(run: models.StageRun) -> None:
    busy = (
        models.StageRun.select(models.StageRun.id)
        .where(
            (models.StageRun.avatar == run.avatar_id)
            & (models.StageRun.stage == run.stage)
            & (models.StageRun.state.in_(ACTIVE_VALUES))
        )
        .first()
    )
    if busy is not None:
        raise AlreadyExists(
            stage=run.stage,
            code="stage_busy",
            cause=f"stage {run.stage!r} of this avatar already has the active run {busy.id}",
            advice=f"let run {busy.id} finish or cancel it first (`twinforge queue cancel {busy.id}`)",
        )


def cancel(runtime: Runtime, ref: str, reason: str) -> models.StageRun:
    """A waiting job is cancelled at once and leaves its queue; a running one is asked to stop,
    and its worker stops the plugin at its next report (within seconds)."""
    run = find_run(ref)
    with runtime.uow() as uow:
        run = use_cases.cancel_run(uow, run.id, reason)
    if run.state == StageState.CANCELLED.value:
        try:
            Job.fetch(current_job_id(run), connection=runtime.redis).cancel()
        except (NoSuchJobError, InvalidJobOperation):
            pass
    return run


def move(runtime: Runtime, ref: str, priority: Priority) -> tuple[models.StageRun, str, str]:
    """Moves a waiting job to the back of another priority queue of the same resource; returns
    the run with the queues it left and joined."""
    run = find_run(ref)
    not_waiting = IllegalTransition(
        stage=run.stage,
        code="not_waiting",
        cause=f"job {ref} is not waiting in a queue (it is {run.state})",
        advice="only waiting jobs move; list them with `twinforge queue jobs --state queued`",
    )
    if run.state != StageState.QUEUED.value:
        raise not_waiting
    try:
        job = Job.fetch(current_job_id(run), connection=runtime.redis)
    except NoSuchJobError:
        raise not_waiting from None
    source = job.origin
    resource, current = parse_queue(source)
    if current == priority:
        raise InvalidArgument(
            stage=run.stage,
            code="same_priority",
            cause=f"job {job.id} already waits in {source}",
            advice="pass another priority: " + ", ".join(p.value for p in Priority if p != current),
        )
    target = queue_name(resource, priority)
    if not move_job(runtime.redis, job, target):
        raise not_waiting
    with runtime.uow() as uow:
        run = use_cases.set_priority(uow, run.id, priority.value)
    return run, source, target


def pause(runtime: Runtime, queue: str) -> tuple[str, bool]:
    """Returns the queue's full name and whether it was running before."""
    name = queue_name(*parse_queue(queue))
    return name, pausing.pause(runtime.redis, name)


def resume(runtime: Runtime, queue: str) -> tuple[str, bool]:
    """Returns the queue's full name and whether it was paused before."""
    name = queue_name(*parse_queue(queue))
    return name, pausing.resume(runtime.redis, name)


def find_worker(runtime: Runtime, name: str) -> Worker:
    """A worker by its name or a prefix that names exactly one (`twinforge-gpu0`)."""
    workers = Worker.all(connection=runtime.redis)
    exact = [w for w in workers if w.name == name]
    matches = exact or [w for w in workers if w.name.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(
            stage="queue",
            code="unknown_worker",
            cause=f"no worker {name}",
            advice="list workers with `twinforge queue ls`",
        )
    raise InvalidArgument(
        stage="queue",
        code="ambiguous_worker",
        cause=f"{name!r} names {len(matches)} workers: " + ", ".join(sorted(w.name for w in matches)),
        advice="pass a worker's full name",
    )


def drain(runtime: Runtime, name: str) -> Worker:
    """RQ's warm shutdown: the worker finishes its current job, takes no other, and exits."""
    worker = find_worker(runtime, name)
    send_shutdown_command(runtime.redis, worker.name)
    return worker


def worker_alive(runtime: Runtime, name: str) -> bool:
    return any(w.name == name for w in Worker.all(connection=runtime.redis))


def purge_failed(runtime: Runtime, older_than: dt.timedelta) -> Purged:
    """Deletes failed runs last changed before the cutoff with their jobs, and failed job records
    RQ keeps for workers that died (their runs were requeued)."""
    cutoff = utcnow() - older_than
    runs = jobs = 0
    old = models.StageRun.select(models.StageRun.id, models.StageRun.attempt).where(
        (models.StageRun.state == StageState.FAILED.value) & (models.StageRun.updated_at < cutoff)
    )
    for run in list(old):
        with runtime.uow() as uow:
            use_cases.purge_run(uow, run.id)
        runs += 1
        jobs += _delete_jobs(runtime, [job_id(run.id, n) for n in range(1, run.attempt + 2)])
    for queue in all_queues(runtime.redis):
        registry = FailedJobRegistry(queue=queue)
        ended = [j for j in Job.fetch_many(registry.get_job_ids(), connection=runtime.redis) if j is not None]
        jobs += _delete_jobs(runtime, [j.id for j in ended if j.ended_at and j.ended_at.replace(tzinfo=None) < cutoff])
    return Purged(runs=runs, jobs=jobs)


def _delete_jobs(runtime: Runtime, ids: list[str]) -> int:
    found = [job for job in Job.fetch_many(ids, connection=runtime.redis) if job is not None]
    for job in found:
        job.delete()
    return len(found)
