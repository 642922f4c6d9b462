"""The evaluation round, in the seed's order: sync first, then how the mouth looks.

`sync_detection` renders, over the driving clip, each chosen held-out test clip's own sound (cut
from the video by the clip's frame range: the person's voice saying words the models never trained
on, materials' `exclude_from_training`) and each unseen voice the platform makes offline
(plugins/evaluation/voices.py: what a deployed avatar is really asked to say), with the trained
graph (the render) and with the driving clip's own mouth (the floor). It measures the sync and the
motion of both, and of the real test clip (the ceiling), and stores the renders for the next stage.

`quality_eval` measures the picture of the own clips' renders and floors (the same files, never
rendered twice) against the real test clip, and gives the round's one verdict over every rule
(plugins/evaluation/report.py): the report the round, the preview, `produce --auto` and the bot read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from host.settings import get_settings
from plugins.evaluation import measures, report, voices
from plugins.evaluation.measure import frames_of, measure
from plugins.evaluation.sync import Expert
from plugins.lipsync.graph import LipSyncGraph, load_graph
from plugins.lipsync.render import model_lower_faces, render_video
from plugins.lipsync.sync_measure import speech_frames
from plugins.media.audio import SAMPLE_RATE, NoSound, read_audio, write_wav
from plugins.media.frames import read_frames
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import open_training_set

REPORT_KIND = "evaluation"
PREVIEW_KIND = "preview"
VOICE_PREVIEW_KIND = "voice_preview"
RENDER_KIND = "evaluation_render"  # sync_detection's renders and floors, measured again by quality_eval
MODEL_KIND = "model"
SYNC_STAGE, QUALITY_STAGE = "sync_detection", "quality_eval"
# What quality_eval measures; sync_detection measures the rest (sync, the expert, motion, face share).
PICTURE_MEASURES = ("lmd", "mouth_psnr", "mouth_ssim", "mouth_sharpness", "sharpness_ratio")
SYNC_GROUPS = ("sync", "motion")
# Shares of one clip's progress: rendering, rendering the floor, then measuring.
RENDER_SHARE, FLOOR_SHARE = 0.4, 0.2

Step = Callable[[float, str], None]


@dataclass(frozen=True)
class Job:
    """One clip of the round: the person's held-out speech or an unseen voice, and its sound."""

    id: str
    kind: str  # own or voice
    samples: np.ndarray  # 16 kHz
    start: int = 0  # own clips: the real clip's frames in the video
    stop: int = 0
    voice: str = ""


def test_clips(materials: dict, most: int | None) -> list[dict]:
    """The chosen held-out test clips (all proposed ones when none is chosen), at most `most`."""
    clips = materials.get("test_clips") or []
    wanted = (materials.get("chosen") or {}).get("tests")
    picked = [clip for clip in clips if clip.get("id") in wanted] if wanted else clips
    if not picked:
        raise StageFailed(
            "no_test_clips", "the materials hold no held-out test clip to measure the model on",
            "run material_extraction again on a longer recording (it keeps a test clip out of training), or choose one",
        )
    return picked[:most] if most else picked


def model_files(ctx: RunContext) -> dict[str, Path]:
    """The model files among the inputs, by sub-model."""
    return {_metadata(item.ref).get("submodel", ""): item.path for item in ctx.inputs if item.ref.kind == MODEL_KIND}


def preset_of(ctx: RunContext) -> str:
    return ctx.parameters.get("preset") or get_settings().intake_preset


def jobs(ctx: RunContext, materials: dict, fps: float) -> list[Job]:
    """The round's clips: the held-out test clips with their own sound, then the unseen voices."""
    try:
        sound = read_audio(ctx.input("video"))
    except NoSound as exc:
        raise StageFailed("no_sound", f"the test clips' sound cannot be read: {exc}", "submit the recording with its sound track") from exc
    found = []
    for clip in test_clips(materials, ctx.parameters.get("clips")):
        start, stop = int(clip["start"]), int(clip["stop"])
        samples = sound[int(round(start * SAMPLE_RATE / fps)) : int(round(stop * SAMPLE_RATE / fps))]
        found.append(Job(str(clip.get("id") or start), "own", samples, start, stop))
    folder = ctx.workdir / "voices"
    for voice in voices.available():
        ctx.progress(0.0, f"making the unseen voice '{voice.name}'")
        found.append(Job(f"voice_{voices.slug(voice.name)}", "voice", read_audio(voices.make(voice, folder)), voice=voice.name))
    return found


def run_sync_detection(ctx: RunContext) -> None:
    """Renders every clip of the round and measures its sync and motion; stores the report and
    the renders (kind RENDER_KIND) for quality_eval."""
    preset = preset_of(ctx)
    video, training_set = ctx.input("video"), ctx.input("training_set")
    materials = json.loads(ctx.input("materials").read_text())
    models = model_files(ctx)
    graph = load_graph(models)
    expert = Expert(models["syncnet"]) if "syncnet" in models else None
    fps = float(open_training_set(training_set).manifest["fps"])
    ctx.progress(0.0, "reading the recording's sound")
    round_jobs = jobs(ctx, materials, fps)
    measured = []
    for index, job in enumerate(round_jobs):
        def step(fraction: float, message: str, index: int = index, job: Job = job) -> None:
            ctx.check_cancelled()
            what = f"test clip {job.id}" if job.kind == "own" else f"the unseen voice '{job.voice}'"
            ctx.progress((index + fraction) / len(round_jobs), f"clip {index + 1} of {len(round_jobs)}, {what}: {message}")

        roles, files = sync_clip(ctx.workdir, video, training_set, materials, graph, expert, fps, job, step)
        measured.append(clip_entry(job, fps, roles))
        for role, path in files.items():
            ctx.save_artifact(path, path.name, RENDER_KIND, {"clip": job.id, "role": role, "kind": job.kind, "voice": job.voice})
    made = report.build(measured, preset, SYNC_GROUPS)
    store_report(ctx, SYNC_STAGE, made)
    ctx.progress(1.0, "lip sync is measured")


def clip_entry(job: Job, fps: float, roles: dict[str, dict]) -> dict:
    entry = {"id": job.id, "kind": job.kind, "seconds": len(job.samples) / SAMPLE_RATE, "start": job.start, "stop": job.stop, **roles}
    if job.kind == "own":
        entry["seconds"] = (job.stop - job.start) / fps
    else:
        entry["voice"] = job.voice
    return entry


def sync_clip(workdir: Path, video: Path, training_set: Path, materials: dict, graph: LipSyncGraph, expert: Expert | None,
              fps: float, job: Job, step: Step) -> tuple[dict[str, dict], dict[str, Path]]:
    """The render's, the floor's and (own clips) the real clip's sync and motion measures, and the
    render's and the floor's files."""
    wav = workdir / f"{job.id}.wav"
    write_wav(wav, job.samples)
    files = {"render": workdir / f"{job.id}_render.mp4", "floor": workdir / f"{job.id}_floor.mp4"}
    summary = render_video(video, training_set, materials, wav, model_lower_faces(graph, training_set, fps), files["render"],
                           progress=lambda f, m, eta=None: step(RENDER_SHARE * f, m))
    render_video(video, training_set, materials, wav, None, files["floor"],
                 progress=lambda f, m, eta=None: step(RENDER_SHARE + FLOOR_SHARE * f, f"the floor: {m}"))
    speech = speech_frames(job.samples, fps, int(summary["frames"]))
    tracks = {}
    if job.kind == "own":
        step(RENDER_SHARE + FLOOR_SHARE, "measuring the real clip")
        tracks["ceiling"] = real_track(video, job)
    step(0.75, "measuring the render")
    tracks["render"] = measures.track(frames_of(files["render"]))
    step(0.9, "measuring the floor")
    tracks["floor"] = measures.track(frames_of(files["floor"]))
    roles = {role: kept(measure(track, job.samples, fps, speech, None), picture=False) for role, track in tracks.items()}
    if expert is not None:
        for role, track in tracks.items():
            roles[role].update(expert.confidence(track.lips, job.samples, fps, speech))
    return roles, files


def real_track(video: Path, job: Job) -> measures.Track:
    return measures.track(rgb for _, rgb in read_frames(video, job.start, job.stop))


def kept(values: dict, picture: bool) -> dict:
    """The picture measures (quality_eval's) or all the others (sync_detection's)."""
    return {name: value for name, value in values.items() if (name in PICTURE_MEASURES) == picture}


def run_quality_eval(ctx: RunContext) -> None:
    """Measures the picture of sync_detection's renders of the own clips against the real clips,
    then gives the round's verdict over every rule and stores it with the previews."""
    preset = preset_of(ctx)
    video = ctx.input("video")
    synced = sync_report(ctx)
    renders = {(meta["clip"], meta["role"]): item.path for item in ctx.inputs if item.ref.kind == RENDER_KIND
               for meta in [_metadata(item.ref)]}
    fps = float(open_training_set(ctx.input("training_set")).manifest["fps"])
    own = [clip for clip in synced["clips"] if clip["kind"] == "own"]
    clips = []
    for clip in synced["clips"]:
        if clip["kind"] != "own":
            clips.append(clip)
            continue
        index = own.index(clip)
        ctx.progress(index / len(own), f"test clip {index + 1} of {len(own)}: measuring the real clip")
        job = Job(clip["id"], "own", np.zeros(0, np.float32), int(clip["start"]), int(clip["stop"]))
        real = real_track(video, job)
        picture = {"ceiling": kept(measures.quality(real, np.zeros(len(real.lips), bool), real), picture=True)}
        for role in ("render", "floor"):
            ctx.progress((index + (0.4 if role == "render" else 0.7)) / len(own), f"test clip {index + 1} of {len(own)}: measuring the {role}")
            path = renders.get((clip["id"], role))
            if path is None:
                raise StageFailed("missing_render", f"sync_detection stored no {role} of test clip {clip['id']}",
                                  "run sync_detection again, then quality_eval")
            track = measures.track(frames_of(path))
            picture[role] = kept(measures.quality(track, np.zeros(len(track.lips), bool), real), picture=True)
        clips.append({**clip, **{role: {**(clip.get(role) or {}), **picture[role]} for role in picture}})
    made = report.build(clips, preset)
    store_report(ctx, QUALITY_STAGE, made)
    first_own = next(clip["id"] for clip in clips if clip["kind"] == "own")
    ctx.save_artifact(renders[(first_own, "render")], f"{QUALITY_STAGE}_preview.mp4", PREVIEW_KIND, {"clip": first_own})
    voice = next((clip for clip in clips if clip["kind"] == "voice"), None)
    if voice is not None:
        ctx.save_artifact(renders[(voice["id"], "render")], f"{QUALITY_STAGE}_voice_preview.mp4", VOICE_PREVIEW_KIND,
                          {"clip": voice["id"], "voice": voice["voice"]})
    ctx.progress(1.0, "the model is measured")


def sync_report(ctx: RunContext) -> dict:
    """sync_detection's report among the inputs: the round cannot be judged without it."""
    for item in ctx.inputs:
        if item.ref.kind == REPORT_KIND:
            found = json.loads(item.path.read_text())
            if found.get("format") == report.FORMAT and found.get("format_version") == report.FORMAT_VERSION:
                return found
    raise StageFailed(
        "no_sync_report", "quality_eval judges the round with sync first, and no sync_detection report of this model is among its inputs",
        "run sync_detection on the same model files first; the flow does it before quality_eval",
    )


def store_report(ctx: RunContext, stage: str, made: dict) -> None:
    path = ctx.workdir / f"{stage}.json"
    path.write_text(json.dumps(made, indent=2))
    ctx.save_artifact(path, path.name, REPORT_KIND, {"preset": made["preset"], "passed": made["passed"], "clips": len(made["clips"])})
    ctx.summary = report.run_summary(made)
    for line in made["summary"]:
        ctx.log(line)


def _metadata(ref: object) -> dict:
    return json.loads(getattr(ref, "metadata_json", "") or "{}")
