"""A unit of work: one database transaction in which state changes and their notifications are
written together (an outbox), published to live subscribers only after the commit.

A crash between commit and publish loses nothing: subscribers read the notification rows, and the
publish is only a wake-up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import peewee

from host.storage import models
from host.storage.db import database_proxy, full_disk_as_unavailable

GLOBAL_SEQUENCE = "notification_seq"

Publisher = Callable[[list[models.Notification]], None]


def _next_global_seq() -> int:
    """Increments the global counter; the UPDATE holds the row lock until commit, so concurrent
    writers commit in sequence order and a follower reading "after N" never skips a late commit."""
    models.Counter.insert(name=GLOBAL_SEQUENCE, value=0).on_conflict_ignore().execute()
    models.Counter.update(value=models.Counter.value + 1).where(
        models.Counter.name == GLOBAL_SEQUENCE
    ).execute()
    return models.Counter.get_by_id(GLOBAL_SEQUENCE).value


@dataclass
class UnitOfWork:
    written: list[models.Notification] = field(default_factory=list)

    def notify(
        self,
        avatar_id: str,
        kind: str,
        payload: dict[str, Any] | None = None,
        run_id: str = "",
        stage: str = "",
    ) -> models.Notification:
        """Appends a notification with the next global and per-avatar sequence numbers."""
        global_seq = _next_global_seq()
        last = (
            models.Notification.select(peewee.fn.MAX(models.Notification.seq))
            .where(models.Notification.avatar == avatar_id)
            .scalar()
        )
        row = models.Notification.create(
            global_seq=global_seq,
            avatar=avatar_id,
            seq=(last or 0) + 1,
            kind=kind,
            run_id=run_id,
            stage=stage,
            payload_json=json.dumps(payload or {}, sort_keys=True, default=str),
        )
        self.written.append(row)
        return row


@contextmanager
def unit_of_work(publish: Publisher | None = None) -> Iterator[UnitOfWork]:
    """Commits when the block ends normally and rolls back on any exception; publishes after commit.

    SQLite transactions start IMMEDIATE: two processes that both read and then write would
    otherwise deadlock on the lock upgrade instead of waiting their turn.
    """
    db = database_proxy.obj
    uow = UnitOfWork()
    tx = db.atomic("IMMEDIATE") if isinstance(db, peewee.SqliteDatabase) else db.atomic()
    with full_disk_as_unavailable(), tx:
        yield uow
    if uow.written and publish is not None:
        publish(uow.written)
