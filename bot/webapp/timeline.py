"""The whole production of an avatar as one timeline a person can read: a handful of steps in the
order they happen, each with a friendly name, where it stands and how far it got, instead of the
twenty-odd stages the host runs (their names are ids: `vad`, `audio2lip`). A stage the table does
not know (a sub-model a new spec adds) counts as training."""

from __future__ import annotations

from bot.catalogue import say
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


def timeline(avatar: host_pb.Avatar, language: str) -> dict:
    """The steps of the avatar's latest version (the stages of `avatar.stages` are the newest run of each)."""
    latest = max((r.submission_version for r in avatar.stages), default=0)
    runs = [r for r in avatar.stages if r.submission_version == latest and r.stage not in NOT_PRODUCTION]
    steps = []
    for key, stages in STEPS:
        mine = [r for r in runs if step_of(r.stage) == key]
        state = standing(mine, len(stages) or len(mine))
        progress = sum(1.0 if r.state == host_pb.STAGE_STATE_SUCCEEDED else r.progress for r in mine) / max(len(stages), len(mine), 1)
        steps.append({"key": key, "name": say(f"webapp_step_{key}", language), "state": state,
                      "words": say(f"run_state_{state}", language), "progress": round(min(progress, 1.0), 3)})
    current = next((i for i, step in enumerate(steps) if step["state"] != DONE), len(steps) - 1)
    key = "webapp_step_failed" if steps[current]["state"] == FAILED else "webapp_step_of"
    return {"name": avatar.name, "version": latest, "steps": steps, "step": current + 1, "of": len(steps),
            "summary": say(key, language, step=current + 1, of=len(steps), name=steps[current]["name"])}
