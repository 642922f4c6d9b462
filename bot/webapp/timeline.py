"""The whole production of an avatar as one timeline a person can read: a handful of steps in the
order they happen, each with a friendly name, where it stands and how far it got, instead of the
twenty-odd stages the host runs (their names are ids: `vad`, `audio2lip`). A stage the table does
not know (a sub-model a new spec adds) counts as training."""

from __future__ import annotations

import math
import time

from bot.catalogue import say
from bot.webapp.watch import RunNews
from twinforge.host.v1 import host_service_pb2 as host_pb

# step key (catalogue `webapp_step_<key>`) and the stages it is made of, in the flow's order
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("check", ("video_analysis",)),
    ("prepare", ("vad", "audio_features", "face_track", "segmentation", "crop")),
    ("materials", ("material_extraction",)),
    ("cutout", ("cutout", "interactive_edit")),
    ("training", ()),  # every other stage: the model's sub-models
    ("testing", ("sync_detection", "quality_eval")),
    ("live", ("image_packaging", "deployment")),
)
NOT_PRODUCTION = ("probe", "tts")  # run on request, not steps of making the avatar
ON_REQUEST = ("interactive_edit",)  # part of its step when it runs (the person edits), but a step is done without it
TRAINING = "training"

# how a step stands (the catalogue's `run_state_<state>` words), from its stages' states
FAILED, WAITING_FOR_YOU, RUNNING, QUEUED, DONE, CANCELLED, NOT_STARTED = (
    "failed", "waiting_for_user", "running", "queued", "succeeded", "cancelled", "pending")


def step_of(stage: str) -> str:
    return next((key for key, stages in STEPS if stage in stages), TRAINING)


def standing(runs: list[host_pb.StageRun], stages_known: int) -> str:
    """The first that applies wins: a failure, then a question to the person, then work going on."""
    states = {run.state for run in runs}
    if not runs:
        return NOT_STARTED
    if host_pb.STAGE_STATE_FAILED in states:
        return FAILED
    if host_pb.STAGE_STATE_WAITING_FOR_USER in states:
        return WAITING_FOR_YOU
    if host_pb.STAGE_STATE_RUNNING in states:
        return RUNNING
    if states & {host_pb.STAGE_STATE_QUEUED, host_pb.STAGE_STATE_PENDING}:
        return QUEUED
    if states == {host_pb.STAGE_STATE_SUCCEEDED}:
        return DONE if len(runs) >= stages_known else RUNNING  # some of its stages have not started yet
    return CANCELLED


def time_left(seconds: float, language: str) -> str:
    if seconds < 60:
        return say("webapp_eta_soon", language)
    minutes = math.ceil(seconds / 60)
    return say("webapp_eta_step", language, minutes=say("webapp_eta_minute", language) if minutes == 1 else
               say("webapp_eta_minutes", language, count=minutes))


def news_words(runs: list[host_pb.StageRun], news: dict[str, RunNews], language: str, now: float) -> tuple[str, str]:
    """(the place in the queue, the time left) of the runs waiting or running now, each "" when the host
    said nothing of it. The host's ETAs are per run: the time left is that of the step under way; the
    whole production's is not known."""
    places = [news[r.run_id] for r in runs if r.state == host_pb.STAGE_STATE_QUEUED and r.run_id in news and news[r.run_id].position]
    queue = say("webapp_queue", language, position=places[0].position, of=places[0].of) if places else ""
    left = [found for r in runs if r.state == host_pb.STAGE_STATE_RUNNING and r.run_id in news
            and (found := news[r.run_id].left_s(now)) is not None]
    return queue, time_left(max(left), language) if left else ""


def timeline(avatar: host_pb.Avatar, language: str, news: dict[str, RunNews] | None = None) -> dict:
    """The steps of the avatar's latest version (the stages of `avatar.stages` are the newest run of each),
    with the place in the queue and the time left where `news` has them."""
    latest = max((r.submission_version for r in avatar.stages), default=0)
    runs = [r for r in avatar.stages if r.submission_version == latest and r.stage not in NOT_PRODUCTION]
    steps = []
    for key, stages in STEPS:
        mine = [r for r in runs if step_of(r.stage) == key]
        needed = len([s for s in stages if s not in ON_REQUEST])
        state = standing(mine, needed or len(mine))
        progress = sum(1.0 if r.state == host_pb.STAGE_STATE_SUCCEEDED else r.progress for r in mine) / max(needed, len(mine), 1)
        steps.append({"key": key, "name": say(f"webapp_step_{key}", language), "state": state,
                      "words": say(f"run_state_{state}", language), "progress": round(min(progress, 1.0), 3)})
    current = next((i for i, step in enumerate(steps) if step["state"] != DONE), len(steps) - 1)
    key = "webapp_step_failed" if steps[current]["state"] == FAILED else "webapp_step_of"
    queue, left = news_words(runs, news or {}, language, time.time())
    return {"name": avatar.name, "version": latest, "steps": steps, "step": current + 1, "of": len(steps),
            "summary": say(key, language, step=current + 1, of=len(steps), name=steps[current]["name"]), "queue": queue, "eta": left}
