"""Abandoned avatars are deleted with all their data (host/retention.py): one untouched for longer
than TWINFORGE_RETENTION_DAYS goes, files and rows; a recent one, a deployed one and one with a
stage waiting stay, however old; 0 days keeps everything."""

from __future__ import annotations

import datetime as dt

from host import deployments, retention, use_cases
from host.storage import models
from host.storage.blobs import blob_key
from host.storage.models import utcnow
from tests.integration.test_deploy_api import KNOWN, finished
from tests.fixtures.media import write_test_video


def aged(avatar_id: str, days: float) -> None:
    """Moves everything that happened to the avatar `days` into the past."""
    then = utcnow() - dt.timedelta(days=days)
    models.Avatar.update(created_at=then).where(models.Avatar.id == avatar_id).execute()
    models.Notification.update(created_at=then).where(models.Notification.avatar == avatar_id).execute()


def an_avatar(runtime, name: str, tmp_path) -> str:
    with runtime.uow() as uow:
        avatar = use_cases.create_avatar(uow, "cli:retention", name).id
    runtime.blobs.put_file(blob_key(avatar, "uploads", "u1", "take.mp4"), write_test_video(tmp_path / f"{name}.mp4", seconds=1.0))
    return avatar


def test_only_avatars_nobody_touched_for_the_retention_period_and_nobody_uses_are_deleted(runtime, tmp_path) -> None:
    old, recent, live, busy = (an_avatar(runtime, name, tmp_path) for name in ("old", "recent", "live", "busy"))
    with runtime.uow() as uow:
        deploy = use_cases.submit_stage(uow, live, deployments.DEPLOYMENT, [], {"action": "deploy", "target": "local"}, KNOWN, 1)
    finished(runtime, deploy, {"endpoint": {"target": "local", "grpc_address": "127.0.0.1:1", "http_address": "127.0.0.1:2"}})
    with runtime.uow() as uow:
        use_cases.submit_stage(uow, busy, deployments.PACKAGING, [], {}, KNOWN, 1)
    for avatar in (old, live, busy):
        aged(avatar, 40)
    aged(recent, 10)

    assert retention.sweep(runtime) == [], "0 days keeps every avatar"
    runtime.settings = runtime.settings.model_copy(update={"retention_days": 30})
    assert retention.sweep(runtime) == [old]
    assert models.Avatar.get_or_none(models.Avatar.id == old) is None
    assert not (runtime.settings.resolved_data_dir / "blobs" / "avatars" / old).exists()
    assert {a.id for a in models.Avatar.select()} == {recent, live, busy}
    assert (runtime.settings.resolved_data_dir / "blobs" / "avatars" / recent).exists()
    assert retention.sweep(runtime) == []
