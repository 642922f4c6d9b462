"""The host's reactor: follows every notification and starts the next stages when one succeeds.

Its cursor is stored, so a host restart resumes where it stopped; starting next stages is
idempotent, so replaying a notification twice starts nothing twice.
"""

from __future__ import annotations

import asyncio
import logging

from host import deployments, registry, use_cases
from host.bootstrap import Runtime
from host.errors import TwinforgeError
from host.notifications import follow
from host.storage import models

log = logging.getLogger(__name__)

CURSOR = "reactor_cursor"


def load_cursor() -> int:
    row = models.Counter.get_or_none(models.Counter.name == CURSOR)
    return row.value if row else 0


def react(runtime: Runtime, row: models.Notification) -> None:
    with runtime.uow() as uow:
        known = registry.known_stages()
        started = use_cases.start_next_stages(uow, row.run_id, runtime.flow, known) + deployments.after_packaging(uow, row.run_id, known)
        models.Counter.insert(name=CURSOR, value=row.global_seq).on_conflict(
            conflict_target=[models.Counter.name], update={models.Counter.value: row.global_seq}
        ).execute()
    runtime.dispatch(started)


def report_blocked(runtime: Runtime, row: models.Notification, error: TwinforgeError) -> None:
    """Tells the person why the flow stopped after this stage, instead of leaving it silently stuck."""
    with runtime.uow() as uow:
        uow.notify(
            row.avatar_id,
            "flow_blocked",
            {"after_stage": row.stage, "code": error.code, "message": error.cause, "advice": error.advice},
            run_id=row.run_id,
            stage=error.stage,
        )


async def run_reactor(runtime: Runtime) -> None:
    cursor = await asyncio.to_thread(load_cursor)
    async for row in follow("", cursor, runtime.settings.resolved_redis_url):
        if row.kind != "stage_succeeded":
            continue
        try:
            await asyncio.to_thread(react, runtime, row)
        except TwinforgeError as exc:
            await asyncio.to_thread(report_blocked, runtime, row, exc)
        except Exception:
            log.exception("could not start the next stages", extra={"run_id": row.run_id})
