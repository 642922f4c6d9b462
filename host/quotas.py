"""What one person may use: avatars kept, stages waiting or running at once, videos trained a day.

A person is an avatar's owner. The bounds are settings (TWINFORGE_MAX_AVATARS_PER_PERSON,
TWINFORGE_MAX_ACTIVE_RUNS_PER_PERSON, TWINFORGE_MAX_TRAININGS_PER_DAY) and are checked where a
person asks for more (a new avatar, a submitted video, a stage submitted by hand), never inside a
flow that already started: a production is not cut off half way. A training is a submitted video
(each trains a model); a rejection's retrain is bounded per avatar instead (TWINFORGE_MAX_REJECTIONS,
host/approval.py). Each refusal says what the bound is, how far the person is, and what to do.
"""

from __future__ import annotations

import datetime as dt

import grpc

from host.errors import TwinforgeError
from host.settings import Settings
from host.state import ACTIVE_VALUES
from host.storage import models
from host.storage.models import utcnow

DAY = dt.timedelta(days=1)


class QuotaExceeded(TwinforgeError):
    """A person asked for more than their share of the platform."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED


def check_new_avatar(owner: str, settings: Settings) -> None:
    kept = models.Avatar.select().join(models.User).where(models.User.external_id == owner).count()
    if kept >= settings.max_avatars_per_person:
        raise QuotaExceeded(
            code="too_many_avatars",
            cause=f"{owner} has {kept} avatars, the most one person may keep (TWINFORGE_MAX_AVATARS_PER_PERSON)",
            advice="delete one you no longer need (twinforge avatar delete AVATAR, or /delete in the bot), "
                   "or ask the operator for a higher limit",
        )


def check_new_work(avatar_id: str, settings: Settings, training: bool) -> None:
    """Before a person's avatar gets a new stage (`training`: a submitted video, which trains a model)."""
    owner = models.Avatar.get_by_id(avatar_id).owner
    theirs = models.Avatar.select(models.Avatar.id).where(models.Avatar.owner == owner)
    active = models.StageRun.select().where(models.StageRun.avatar.in_(theirs) & models.StageRun.state.in_(ACTIVE_VALUES)).count()
    if active >= settings.max_active_runs_per_person:
        raise QuotaExceeded(
            code="too_much_queued",
            cause=f"{active} stages of {owner.external_id}'s avatars are waiting or running, the most one person may have at once "
                  "(TWINFORGE_MAX_ACTIVE_RUNS_PER_PERSON)",
            advice="wait for some to finish (twinforge watch AVATAR, or /status in the bot), or cancel what you no longer need",
        )
    if not training:
        return
    since = utcnow() - DAY
    recent = list(models.Submission.select(models.Submission.created_at)
                  .where(models.Submission.avatar.in_(theirs) & (models.Submission.created_at > since))
                  .order_by(models.Submission.created_at))
    if len(recent) >= settings.max_trainings_per_day:
        again = recent[0].created_at + DAY
        raise QuotaExceeded(
            code="too_many_trainings",
            cause=f"{owner.external_id} submitted {len(recent)} videos for training in the last 24 hours, the most one person may "
                  "(TWINFORGE_MAX_TRAININGS_PER_DAY)",
            advice=f"submit it again after {again:%Y-%m-%d %H:%M} UTC, when the oldest of them is a day old",
        )
