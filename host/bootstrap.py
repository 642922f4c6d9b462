"""Wiring: one Runtime per process (host, worker, CLI) holding the settings, the database binding,
Redis, the publisher and the flow, so use cases get their dependencies passed in, never global."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import redis

from host.errors import Unavailable
from host.flow import DEFAULT_FLOW, Flow
from host.notifications import redis_publisher
from host.settings import Settings, get_settings
from host.storage.backends import open_blob_store
from host.storage.blobs import BlobStore
from host.storage.db import init_database
from host.storage.models import StageRun
from host.unit_of_work import UnitOfWork, unit_of_work
from scheduler.queues import dispatch

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    blobs: BlobStore
    flow: Flow = field(default=DEFAULT_FLOW)

    def uow(self) -> AbstractContextManager[UnitOfWork]:
        return unit_of_work(redis_publisher(self.redis))

    def dispatch(self, runs: Iterator[StageRun] | list[StageRun]) -> None:
        """Enqueues runs after the commit that queued them.

        With Redis down a run stays committed as queued and the caller still succeeds: the host's
        recovery pass enqueues every queued run whose job is missing once Redis is back, so
        failing here would only report an error for a run that exists.
        """
        for run in runs:
            try:
                dispatch(self.redis, run.id, run.stage, run.attempt, run.priority)
            except Unavailable as exc:
                log.warning("run queued but not enqueued; recovery enqueues it when Redis is back", extra={"run_id": run.id, "error": exc.cause})


def bootstrap(
    settings: Settings | None = None, run_migrations: bool = True, flow: Flow = DEFAULT_FLOW
) -> Runtime:
    settings = settings or get_settings()
    init_database(settings.resolved_database_url, run_migrations=run_migrations)
    return Runtime(
        settings=settings,
        redis=redis.Redis.from_url(settings.resolved_redis_url),
        blobs=open_blob_store(
            settings.resolved_storage_url, settings.storage_retries, settings.storage_retry_backoff_s, settings.storage_timeout_s
        ),
        flow=flow,
    )
