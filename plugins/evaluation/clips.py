"""The held-out test clips rendered and measured, as the `sync_detection` and `quality_eval` stages
do it: each chosen test clip's own sound (cut from the video by the clip's frame range) is rendered
by the trained graph over the driving clip (the render) and with the driving clip's own mouth (the
floor), and both are measured beside the real clip itself (the ceiling). The models never trained
on these frames (materials' `exclude_from_training`), so the render has to generalise to them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from host.settings import get_settings
from plugins.lipsync.sync_measure import speech_frames
from plugins.evaluation import measures, report
from plugins.evaluation.measure import frames_of, measure
from plugins.evaluation.sync import Expert, sound_rows
from plugins.lipsync.driving import chosen_clip, frame_order
from plugins.lipsync.graph import LipSyncGraph, load_graph
from plugins.lipsync.render import model_crops, render_video
from plugins.media.audio import SAMPLE_RATE, NoSound, read_audio, write_wav
from plugins.media.frames import read_frames
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import open_training_set

REPORT_KIND = "evaluation"
PREVIEW_KIND = "preview"
MODEL_KIND = "model"
SYNC_MEASURES = ("sync_confidence", "sync_offset", "sync_offset_frames", "sync_best", "sync_frames", "expert_confidence", "expert_offset")
# Shares of one clip's progress: rendering, rendering the floor, then measuring the three videos.
RENDER_SHARE, FLOOR_SHARE = 0.4, 0.2


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
    return {json.loads(item.ref.metadata_json or "{}").get("submodel", ""): item.path for item in ctx.inputs if item.ref.kind == MODEL_KIND}


def evaluate_test_clips(ctx: RunContext, stage: str, keep: Callable[[str], bool]) -> None:
    """Renders and measures the test clips, then stores the report (only the measures `keep`
    accepts) and the first clip's render as the preview."""
    preset = ctx.parameters.get("preset") or get_settings().intake_preset
    video, training_set = ctx.input("video"), ctx.input("training_set")
    materials = json.loads(ctx.input("materials").read_text())
    models = model_files(ctx)
    graph = load_graph(models)
    expert = Expert(models["syncnet"], graph.geometry) if "syncnet" in models and keep("expert_confidence") else None
    dataset = open_training_set(training_set)
    fps = float(dataset.manifest["fps"])
    clips = test_clips(materials, ctx.parameters.get("clips"))
    ctx.progress(0.0, "reading the recording's sound")
    try:
        sound = read_audio(video)
    except NoSound as exc:
        raise StageFailed("no_sound", f"the test clips' sound cannot be read: {exc}", "submit the recording with its sound track") from exc
    measured, previews = [], []
    for index, clip in enumerate(clips):
        def step(fraction: float, message: str, eta: float | None = None, index: int = index) -> None:
            ctx.check_cancelled()
            ctx.progress((index + fraction) / len(clips), f"test clip {index + 1} of {len(clips)}: {message}")

        roles, preview = evaluate_clip(ctx.workdir, video, training_set, materials, graph, expert, sound, fps, clip, step)
        measured.append({"id": clip.get("id"), "start": int(clip["start"]), "stop": int(clip["stop"]),
                         **{role: {k: v for k, v in values.items() if keep(k)} for role, values in roles.items()}})
        previews.append(preview)
    made = report.build(measured, preset, keep)
    path = ctx.workdir / f"{stage}.json"
    path.write_text(json.dumps(made, indent=2))
    metadata = {"preset": preset, "passed": made["passed"], "clips": len(measured)}
    ctx.save_artifact(path, path.name, REPORT_KIND, metadata)
    ctx.save_artifact(previews[0], f"{stage}_preview.mp4", PREVIEW_KIND, {"clip": clips[0].get("id")})
    ctx.summary = {"preset": preset, "passed": made["passed"], "mean": made["mean"], "summary": made["summary"]}
    for line in made["summary"]:
        ctx.log(line)
    ctx.progress(1.0, "the model is measured")


def evaluate_clip(workdir: Path, video: Path, training_set: Path, materials: dict, graph: LipSyncGraph, expert: Expert | None,
                  sound: np.ndarray, fps: float, clip: dict, step: Callable) -> tuple[dict[str, dict], Path]:
    """The render's, the floor's and the real clip's measures, and the render's file."""
    start, stop = int(clip["start"]), int(clip["stop"])
    samples = sound[int(round(start * SAMPLE_RATE / fps)) : int(round(stop * SAMPLE_RATE / fps))]
    name = str(clip.get("id") or start)
    wav = workdir / f"{name}.wav"
    write_wav(wav, samples)
    made: list[np.ndarray] = []  # the generated crops, kept for the sync expert as they stream to the render
    model = model_crops(graph, training_set, fps)

    def generated(sound16k: np.ndarray, numbers: list[int]) -> Iterator[np.ndarray]:
        for crop in model(sound16k, numbers):
            made.append(crop)
            yield crop

    rendered, floor = workdir / f"{name}_render.mp4", workdir / f"{name}_floor.mp4"
    summary = render_video(video, training_set, materials, wav, generated, rendered,
                           progress=lambda f, m, eta=None: step(RENDER_SHARE * f, m))
    render_video(video, training_set, materials, wav, None, floor, progress=lambda f, m, eta=None: step(RENDER_SHARE + FLOOR_SHARE * f, f"the floor: {m}"))
    step(RENDER_SHARE + FLOOR_SHARE, "measuring the real clip")
    real = measures.track(rgb for _, rgb in read_frames(video, start, stop))
    speech = speech_frames(samples, fps, len(real.lips))
    roles = {"ceiling": measure(real, samples, fps, speech, real)}
    step(0.75, "measuring the render")
    roles["render"] = measure(measures.track(frames_of(rendered)), samples, fps, speech, real)
    step(0.9, "measuring the floor")
    roles["floor"] = measure(measures.track(frames_of(floor)), samples, fps, speech, real)
    if expert is not None:
        faces = open_training_set(training_set)["faces"]
        order = frame_order(chosen_clip(materials), int(summary["frames"]))
        crops = {"ceiling": np.asarray(faces[start:stop]), "render": np.stack(made), "floor": np.asarray(faces[order])}
        rows = sound_rows(samples)
        for role, pictures in crops.items():
            roles[role].update(expert.confidence(pictures, rows, fps, speech))
    return roles, rendered
