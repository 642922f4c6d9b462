"""Abandoned avatars are deleted with all their data: a face and a voice are not kept for ever
because someone stopped answering. An avatar is abandoned when nothing happened to it (no
notification: no upload, stage, review or deployment) for TWINFORGE_RETENTION_DAYS; one that is
deployed or has a stage waiting or running is in use, whatever its age, and is kept. 0 days (the
default) keeps every avatar. The host runs a pass every hour (host/server.py)."""

from __future__ import annotations

import datetime as dt
import logging

import peewee

from host import deletion
from host.bootstrap import Runtime
from host.errors import IllegalTransition
from host.storage import models
from host.storage.models import utcnow

log = logging.getLogger(__name__)
EVERY_S = 3600.0


def abandoned(days: float, now: dt.datetime) -> list[str]:
    """Ids of the avatars with no notification newer than `days` before `now`."""
    cutoff = now - dt.timedelta(days=days)
    last = (models.Notification.select(models.Notification.avatar, peewee.fn.MAX(models.Notification.created_at).alias("last"))
            .group_by(models.Notification.avatar))
    recent = {row.avatar_id for row in last if row.last >= cutoff}
    old = models.Avatar.select(models.Avatar.id).where(models.Avatar.created_at < cutoff)
    return sorted(row.id for row in old if row.id not in recent)


def sweep(runtime: Runtime, now: dt.datetime | None = None) -> list[str]:
    """Deletes the abandoned avatars that are not in use; returns their ids."""
    days = runtime.settings.retention_days
    if days <= 0:
        return []
    gone = []
    for avatar_id in abandoned(days, now or utcnow()):
        try:
            done = deletion.delete_avatar(runtime, avatar_id, "retention", cancel_running=False)
        except IllegalTransition as exc:  # deployed, or a stage waits or runs: in use
            log.info("abandoned avatar kept", extra={"avatar_id": avatar_id, "why": exc.cause})
            continue
        if done.deleted:
            gone.append(avatar_id)
    return gone
