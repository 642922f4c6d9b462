"""What a user gets from a recording: the personal model trained from it alone, on this machine, and
judged by the platform's own round.

    .venv/bin/python -m bench.lipsync [--video NAME ...] [--preset draft] [--keep DIR] [--reuse] [--retrain SUB ...] [--steps N]

For each recording (default: congress_60s_256, anchor_20s_512, closeup_15s_900 and
phone_portrait_20s_1080x1920 from ../shared/samples), every stage runs as its plugin runs it
(`Plugin.run` with a real RunContext on a local blob store, bench/preprocess.py's run_stage): the
five preprocessing stages, material_extraction (which picks the driving clip and the held-out test
clips and excludes them from training), the four trainers in the spec's order (syncnet, audio2lip,
generator, refiner: the platform's training loop, its checkpoints, evaluations and stop rules),
then the round: sync_detection (the held-out test clips with their own sound and the unseen voices,
rendered over the driving clip and measured against the floor and the real recording) and
quality_eval (the picture, and the one verdict; docs/evaluation.md).

Printed per recording: each sub-model's time and held-out figures; the whole graph's time against
the budget (10 minutes for a 60-s recording, 6 for a 20-s one, on 2 cores); per clip of the round
the render's sync confidence and offset against the floor's and the real recording's, its lip
motion, sharpness, lip distance, mouth SSIM and PSNR against their baselines (the own clip's lip
distance also against a frozen mouth and the person's mean shape); the verdict with every rule
that failed. With --keep, the renders, the model files and `mouths_<clip>.png` (the mouth of
every 25th frame of the own test clip at the video's own resolution: real | render | floor, side
by side, to look at) stay in DIR/<recording>; --reuse takes the preprocessing, the
materials and the model files found there again (except the sub-models named by --retrain and
those that depend on them), so that one sub-model can be changed and measured alone.

Other work on the machine makes the timings noisy.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import click
import cv2
import numpy as np
import torch

from bench.intake import SAMPLES
from bench.preprocess import UPSTREAM, run_stage
from host.storage.blobs import blob_key
from host.storage.local import LocalBlobStore
from plugins.crop.server import Crop
from plugins.evaluation import measures
from plugins.evaluation.measure import frames_of
from plugins.evaluation.quality_eval import QualityEval
from plugins.evaluation.sync_detection import SyncDetection
from plugins.face_track.mesh import mesh_points, new_mesh
from plugins.lipsync.data import LIPS
from plugins.lipsync.sync_measure import EYE_CORNERS
from plugins.material_extraction.server import MaterialExtraction
from plugins.media.frames import probe, read_frames
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.plugin import Plugin
from plugins.trainer.plugin import Trainer
from plugins.trainer.spec import Spec, load_spec
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

VIDEOS = ("congress_60s_256.mp4", "anchor_20s_512.mp4", "closeup_15s_900.mp4", "phone_portrait_20s_1080x1920.mp4")
TEST_SECONDS = 10
DRIVING_SECONDS = 5
ORDER = ("syncnet", "audio2lip", "generator", "refiner")
NEEDS = {"syncnet": (), "audio2lip": ("syncnet",), "generator": ("audio2lip",), "refiner": ("generator",)}
NOT_LOSSES = ("lr", "samples_per_second")
MOUTH_EVERY = 25  # frames between the mouths shown side by side
MOUTH_SHOWN = 160  # px: each mouth square as shown


class Recorded:
    """A plugin as run_stage runs it, keeping what the host would read from the run's events and
    its summary: the metrics as (name, value, step), in order."""

    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin
        self.stages = plugin.stages
        self.metrics: list[tuple[str, float, int]] = []
        self.summary: dict = {}

    def run(self, ctx: RunContext) -> None:
        emit = ctx.emit

        def record(event: plugin_pb.RunResponse) -> None:
            if event.HasField("metric"):
                self.metrics.append((event.metric.name, event.metric.value, event.metric.step))
            emit(event)

        ctx.emit = record
        self.plugin.run(ctx)
        self.summary = ctx.summary


def preprocessed(video: Path, blobs: LocalBlobStore, root: Path, preset: str) -> tuple[LocalInput, LocalInput]:
    """The submitted video and its training set, made by the five preprocessing plugins."""
    info = blobs.put_file(blob_key("bench", "uploads", "lipsync", "video"), video)
    submitted = LocalInput(plugin_pb.ArtifactRef(key=info.key, kind="video", sha256=info.sha256, size=info.size, name="video"), video)
    produced = [submitted]
    for plugin in UPSTREAM:
        produced.extend(run_stage(plugin, [submitted], blobs, root, {})[1])
    _, outputs = run_stage(Crop(), produced, blobs, root, {"preset": preset})
    return submitted, next(item for item in outputs if item.ref.kind == "training_set")


def build_training_set(video: Path, root: Path, preset: str) -> Path:
    """The training set of `video` alone (for tests that train the sub-models directly)."""
    return preprocessed(video, LocalBlobStore(root / "blobs"), root, preset)[1].path


def held_out_materials(frame_count: int, fps: float) -> dict:
    """Fixed materials for tests that skip material_extraction: the last 10 s held out, the
    first 5 s the driving clip."""
    start = frame_count - int(TEST_SECONDS * fps)
    return {
        "fps": fps, "frame_count": frame_count,
        "driving_clips": [{"id": "d1", "start": 0, "stop": int(DRIVING_SECONDS * fps), "loop": "pingpong"}],
        "test_clips": [{"id": "t1", "start": start, "stop": frame_count}],
        "exclude_from_training": [[start, frame_count]],
    }


def spec_with(steps: int | None) -> Spec:
    """The default model spec, every sub-model's iterations set to `steps` when given (a quick
    check of the whole path)."""
    spec = load_spec()
    if not steps:
        return spec
    return Spec({
        name: replace(sub, presets={
            preset: {**values, "iterations": steps, "checkpoint_every": min(steps, int(values["checkpoint_every"]))}
            for preset, values in sub.presets.items()
        })
        for name, sub in spec.submodels.items()
    })


def loss_ends(metrics: list[tuple[str, float, int]]) -> dict[str, tuple[float, float]]:
    """Per loss: its first and its last reported value."""
    ends: dict[str, tuple[float, float]] = {}
    for name, value, _ in metrics:
        if name in NOT_LOSSES or name.startswith("eval_"):
            continue
        ends[name] = (ends[name][0] if name in ends else value, value)
    return ends


def kept_input(path: Path, kind: str, metadata: dict | None = None) -> LocalInput:
    """A file from an earlier run, as a stage gets it."""
    return LocalInput(plugin_pb.ArtifactRef(key=f"bench/{path.name}", kind=kind, name=path.name,
                                            metadata_json=json.dumps(metadata or {})), path)


def stale(retrain: tuple[str, ...]) -> set[str]:
    """The sub-models to train again: those named and every one downstream of them."""
    found = set(retrain)
    for name in ORDER:
        if any(need in found for need in NEEDS[name]):
            found.add(name)
    return found


def train_graph(inputs: list[LocalInput], blobs: LocalBlobStore, root: Path, preset: str, spec: Spec,
                kept: dict[str, LocalInput]) -> tuple[dict[str, LocalInput], float, dict[str, float]]:
    """The trainers one after the other (those in `kept` are taken as they are), each reported;
    their model files, the seconds in all, and each one's seconds."""
    models: dict[str, LocalInput] = dict(kept)
    took: dict[str, float] = {}
    for name in ORDER:
        if name in kept:
            click.echo(f"{name}: kept from the earlier run")
            continue
        trainer = Recorded(Trainer(name, spec=spec))
        upstream = [models[need] for need in trainer.plugin.submodel.needs]
        seconds, outputs = run_stage(trainer, inputs + upstream, blobs, root, {"preset": preset})
        took[name] = seconds
        models[name] = next(item for item in outputs if item.ref.kind == "model")
        summary = trainer.summary
        metadata = json.loads(models[name].ref.metadata_json or "{}")
        click.echo(
            f"{name}: {metadata.get('parameters')} parameters, {summary['iterations']} steps of {summary['config']['batch_size']} "
            f"(stopped: {summary['stopped']}), {seconds:.0f} s in all ({summary['training_seconds']:.0f} s training), "
            f"{summary['samples_per_second']:.0f} samples/s"
        )
        click.echo("  losses first -> last report: " + ", ".join(
            f"{k} {first:.4f} -> {last:.4f}" for k, (first, last) in loss_ends(trainer.metrics).items()))
        click.echo("  held out: " + ", ".join(f"{k} {v:.4f}" for k, v in summary["evaluation"].items()))
        watched = next((k for k in ("held_out_loss", "held_out_mse", "held_out_l1_masked") if k in summary["evaluation"]), None)
        if watched and len(summary["history"]) > 1:
            click.echo(f"  {watched} by iteration: " + ", ".join(f"{item['iteration']}: {item['evaluation'][watched]:.4f}" for item in summary["history"])
                       + f" (kept: {summary.get('best_iteration', summary['iterations'])})")
        if name == "audio2lip":
            click.echo(f"  opening gain {metadata['gain']:.2f}, the recording's sound-to-mouth offset {metadata['av_offset']:+d} frames")
    return models, sum(took.values()), took


def ratio(value: float | None, base: float | None) -> str:
    return "-" if value is None or not base else f"{value / base:.2f}"


def number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def clip_rows(made: dict) -> list[str]:
    """Per clip of the round: the render's figures against its baselines."""
    lines = [f"{'clip':<34} {'sync r/floor/real':>20} {'offset':>7} {'motion':>7} {'sharp':>6} {'lmd r/floor':>12} {'ssim r/floor':>12} {'psnr r/floor':>13}"]
    for clip in made["clips"]:
        render, floor, real = clip.get("render") or {}, clip.get("floor") or {}, clip.get("ceiling") or {}
        name = f"{clip['id']} ({clip['kind']}, {clip['seconds']:.1f} s)"
        lines.append(
            f"{name:<34} {number(render.get('sync_confidence'))}/{number(floor.get('sync_confidence'))}/{number(real.get('sync_confidence'))}"
            f" {render.get('sync_offset', '-'):>+7} {ratio(render.get('lip_motion'), real.get('lip_motion')):>7}"
            f" {number(render.get('sharpness_ratio'), 2):>6} {number(render.get('lmd'), 2):>6}/{number(floor.get('lmd'), 2):<5}"
            f" {number(render.get('mouth_ssim'), 3):>6}/{number(floor.get('mouth_ssim'), 3):<5} {number(render.get('mouth_psnr'), 1):>6}/{number(floor.get('mouth_psnr'), 1):<6}"
        )
    return lines


def lip_distance_baselines(own: dict, real: np.ndarray, floor: np.ndarray) -> str:
    """The own clip's lip distance (LMD, % of the eye distance) against two mouths that know nothing
    of the sound, beside the floor's: the driving clip's first mouth held still (a frozen mouth) and
    the driving clip's mean lips held still (the person's mean shape). An average mouth scores a
    good distance to any real one; a model has learnt shapes only where it beats both."""
    found = np.isfinite(floor).all(axis=(1, 2))
    frozen = np.repeat(floor[np.argmax(found)][None], len(real), axis=0)
    mean = np.repeat(np.nanmean(floor[found], axis=0)[None], len(real), axis=0)
    render, driving = (own.get(role) or {} for role in ("render", "floor"))
    return (f"lip distance on {own['id']}: render {number(render.get('lmd'), 2)}, floor {number(driving.get('lmd'), 2)}, "
            f"frozen mouth {number(measures.lmd(frozen, real), 2)}, mean shape {number(measures.lmd(mean, real), 2)}")


def mouths_side_by_side(real: list[np.ndarray], render: list[np.ndarray], floor: list[np.ndarray], path: Path) -> None:
    """A picture of mouth squares, one row per frame: real | render | floor."""
    rows = []
    for triple in zip(real, render, floor):
        rows.append(np.concatenate([cv2.resize(m, (MOUTH_SHOWN, MOUTH_SHOWN), interpolation=cv2.INTER_NEAREST) for m in triple], axis=1))
    if rows:
        cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def mouth_squares(frames, every: int) -> list[np.ndarray]:
    """The mouth square (one eye distance) of every `every`th frame at the video's own pixels."""
    mesh = new_mesh()
    found = []
    try:
        for index, rgb in enumerate(frames):
            if index % every:
                continue
            points = mesh_points(mesh, np.ascontiguousarray(rgb))
            if points is None:
                found.append(np.zeros((MOUTH_SHOWN, MOUTH_SHOWN, 3), np.uint8))
                continue
            eyes = float(np.linalg.norm(points[EYE_CORNERS[0], :2] - points[EYE_CORNERS[1], :2]))
            side = measures.MOUTH_WIDTH * eyes
            found.append(measures.mouth_region(rgb, points[list(LIPS), :2].mean(axis=0), side, max(8, int(round(side)))))
    finally:
        mesh.close()
    return found


def training_inputs(video: Path, preset: str, out: Path, reuse: bool, blobs: LocalBlobStore, root: Path) -> tuple[LocalInput, LocalInput, LocalInput]:
    """The submitted video, its training set and its materials, as the trainers get them: made by
    the preprocessing plugins and material_extraction and kept in `out`, or with `reuse` taken
    from there when an earlier run kept them."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    kept_set, kept_materials = out / "training_set.zip", out / "materials.json"
    if reuse and kept_set.is_file() and kept_materials.is_file():
        info = blobs.put_file(blob_key("bench", "uploads", "lipsync", "video"), video)
        submitted = LocalInput(plugin_pb.ArtifactRef(key=info.key, kind="video", sha256=info.sha256, size=info.size, name="video"), video)
        click.echo(f"{video.name}: preprocessing and materials kept from the earlier run")
        return submitted, kept_input(kept_set, "training_set"), kept_input(kept_materials, "materials")
    submitted, training_set = preprocessed(video, blobs, root, preset)
    click.echo(f"preprocessed {video.name} ({preset}) in {time.perf_counter() - started:.1f} s")
    _, outputs = run_stage(MaterialExtraction(), [submitted, training_set], blobs, root, {"preset": preset})
    materials_input = next(item for item in outputs if item.ref.kind == "materials")
    shutil.copyfile(training_set.path, kept_set)
    shutil.copyfile(materials_input.path, kept_materials)
    return submitted, training_set, materials_input


def bench_video(name: str, preset: str, out: Path, reuse: bool, retrain: tuple[str, ...], steps: int | None) -> dict:
    """One recording through the whole path; what the summary table needs."""
    video = SAMPLES / name
    root = Path(tempfile.mkdtemp(prefix="bench-lipsync-"))
    try:
        blobs = LocalBlobStore(root / "blobs")
        submitted, training_set, materials_input = training_inputs(video, preset, out, reuse, blobs, root)
        materials = json.loads(materials_input.path.read_text())
        clip = next(c for c in materials["driving_clips"] if c["id"] == materials["chosen"]["driving"])
        click.echo(f"materials: driving clip {clip['id']} frames {clip['start']}..{clip['stop']} ({clip['loop']}), "
                   f"test clips {[(c['start'], c['stop']) for c in materials['test_clips']]}")

        again = stale(retrain)
        kept = {sub: kept_input(out / f"{sub}.pt", "model", {"submodel": sub}) for sub in ORDER
                if reuse and sub not in again and (out / f"{sub}.pt").is_file()}
        base = [submitted, training_set, materials_input]
        models, training_s, took = train_graph(base, blobs, root, preset, spec_with(steps), kept)
        for sub, item in models.items():
            if sub not in kept:
                shutil.copyfile(item.path, out / f"{sub}.pt")
        seconds = probe(video).frame_count / probe(video).fps
        budget = 600.0 if seconds > 40 else 360.0
        if took:
            click.echo(f"trained {', '.join(took)} in {training_s:.0f} s"
                       + (f" ({'within' if training_s <= budget else 'OVER'} the {budget / 60:.0f} min budget of the whole graph)" if len(took) == len(ORDER) else ""))

        torch.set_num_threads(2)
        inputs = base + list(models.values())
        round_started = time.perf_counter()
        synced = run_stage(SyncDetection(), inputs, blobs, root, {"preset": preset})[1]
        judged = run_stage(QualityEval(), inputs + synced, blobs, root, {"preset": preset})[1]
        made = json.loads(next(item for item in judged if item.ref.kind == "evaluation").path.read_text())
        click.echo(f"the round took {time.perf_counter() - round_started:.0f} s")
        for line in clip_rows(made):
            click.echo(line)
        for line in made["summary"]:
            click.echo(f"  {line}")
        renders = {(json.loads(item.ref.metadata_json)["clip"], json.loads(item.ref.metadata_json)["role"]): item.path
                   for item in synced if item.ref.kind == "evaluation_render"}
        for (clip_id, role), path in renders.items():
            shutil.copyfile(path, out / f"{clip_id}_{role}.mp4")
        own = next(clip for clip in made["clips"] if clip["kind"] == "own")
        real_frames = [rgb for _, rgb in read_frames(video, int(own["start"]), int(own["stop"]))]
        click.echo(lip_distance_baselines(own, measures.track(real_frames).lips, measures.track(frames_of(renders[(own["id"], "floor")])).lips))
        mouths_side_by_side(mouth_squares(real_frames, MOUTH_EVERY), mouth_squares(frames_of(renders[(own["id"], "render")]), MOUTH_EVERY),
                            mouth_squares(frames_of(renders[(own["id"], "floor")]), MOUTH_EVERY), out / f"mouths_{own['id']}.png")
        return {"video": name, "seconds": seconds, "training_s": training_s if len(took) == len(ORDER) else None, "budget": budget, "report": made}
    finally:
        shutil.rmtree(root, ignore_errors=True)


@click.command()
@click.option("--video", "videos", multiple=True, default=VIDEOS, show_default=True, help="Samples in ../shared/samples.")
@click.option("--preset", default="draft", show_default=True, type=click.Choice(["tiny", "draft", "standard", "high"]))
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="Keep the training sets, models, renders and mouth pictures here.")
@click.option("--reuse", is_flag=True, help="Take what --keep holds from an earlier run instead of making it again.")
@click.option("--retrain", multiple=True, type=click.Choice(ORDER), help="With --reuse: train this sub-model (and those after it) again.")
@click.option("--steps", type=int, help="Override every sub-model's iterations (a quick check of the whole path).")
def main(videos: tuple[str, ...], preset: str, keep: Path | None, reuse: bool, retrain: tuple[str, ...], steps: int | None) -> None:
    if not SAMPLES.is_dir():
        raise click.ClickException(f"sample media not found at {SAMPLES}")
    if reuse and keep is None:
        raise click.ClickException("--reuse takes what --keep holds: give --keep DIR too")
    scratch = None if keep else Path(tempfile.mkdtemp(prefix="bench-lipsync-out-"))
    results = []
    try:
        for name in videos:
            click.echo(f"\n== {name} ({preset}) ==")
            results.append(bench_video(name, preset, (keep or scratch) / Path(name).stem, reuse, retrain, steps))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    click.echo(f"\n{'recording':<36} {'graph s':>8} {'budget':>7} {'verdict':>8}   failed rules")
    for found in results:
        report = found["report"]
        failed = sorted({c["rule"] for c in report["checks"] if not c["passed"]} | {u["rule"] for u in report["unchecked"]})
        trained = "-" if found["training_s"] is None else f"{found['training_s']:.0f}"
        click.echo(f"{found['video']:<36} {trained:>8} {found['budget']:>7.0f} {'passes' if report['passed'] else 'fails':>8}   {', '.join(failed) or '-'}")


if __name__ == "__main__":
    main()
