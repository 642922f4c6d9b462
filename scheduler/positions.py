"""The person's place in the queue: "queued, position N of M", told again only when it changes.

The host calls `publish_positions` every second. The last place told for each run is kept in Redis,
so a pass that finds nothing moved writes nothing, and a run that leaves the queue and comes back
(requeued after a lost worker) is told its place again.
"""

from __future__ import annotations

import datetime as dt

from host import use_cases
from host.bootstrap import Runtime
from host.state import StageState
from host.storage import models
from host.storage.models import utcnow
from scheduler.queues import Resource, job_id, waiting_ids

TOLD_KEY = "twinforge:positions"
"""The runs that have a last told place under `position_key`; lets a pass forget the runs that left."""

FORGET_AFTER_S = 7 * 24 * 3600

TELL_AFTER_S = 1.0
"""A run queued less than this is not told its place: an idle worker takes a new job within
milliseconds, and "position 1 of 1" flashing before "running" would be noise."""


def position_key(run_id: str) -> str:
    return f"twinforge:position:{run_id}"


def places(runtime: Runtime, job_ids: set[str]) -> dict[str, tuple[int, int]]:
    """(place, of) of each of these jobs that is waiting, counted among these jobs only: a job left
    in a queue by a run cancelled meanwhile is nobody's wait."""
    found: dict[str, tuple[int, int]] = {}
    for resource in Resource:
        waiting = [job for job in waiting_ids(runtime.redis, resource) if job in job_ids]
        found.update({job: (index + 1, len(waiting)) for index, job in enumerate(waiting)})
    return found


def publish_positions(runtime: Runtime) -> int:
    """One pass: a stage_position notification for each queued run whose place changed, all in one
    transaction; returns how many were written."""
    runs = list(
        models.StageRun.select(models.StageRun.id, models.StageRun.attempt, models.StageRun.updated_at).where(
            models.StageRun.state == StageState.QUEUED.value
        )
    )
    queued = {job_id(run.id, run.attempt + 1): run for run in runs}
    settled = utcnow() - dt.timedelta(seconds=TELL_AFTER_S)
    waiting = {queued[job].id: place for job, place in places(runtime, set(queued)).items() if queued[job].updated_at <= settled}
    before = runtime.redis.mget([position_key(run_id) for run_id in waiting]) if waiting else []
    changed = {
        run_id: (place, of)
        for (run_id, (place, of)), last in zip(waiting.items(), before)
        if last != f"{place}/{of}".encode()
    }
    told = _tell(runtime, changed) if changed else {}
    for run_id, (place, of) in told.items():
        runtime.redis.set(position_key(run_id), f"{place}/{of}", ex=FORGET_AFTER_S)
    if told:
        runtime.redis.sadd(TOLD_KEY, *told)
    _forget_left(runtime, {run.id for run in runs})
    return len(told)


def _tell(runtime: Runtime, changed: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Writes the notifications of the runs still queued, so a person never reads "position 1 of
    2" after "running"; returns the places told."""
    told = {}
    with runtime.uow() as uow:
        for run_id, (place, of) in changed.items():
            run = use_cases.locked_run(run_id)
            if run.state == StageState.QUEUED.value:
                uow.notify(run.avatar_id, "stage_position", {"position": place, "of": of}, run_id=run.id, stage=run.stage)
                told[run_id] = (place, of)
    return told


def _forget_left(runtime: Runtime, queued_runs: set[str]) -> None:
    left = [run_id for run_id in (m.decode() for m in runtime.redis.smembers(TOLD_KEY)) if run_id not in queued_runs]
    if left:
        runtime.redis.delete(*(position_key(run_id) for run_id in left))
        runtime.redis.srem(TOLD_KEY, *left)
