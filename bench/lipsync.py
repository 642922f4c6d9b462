"""Does the personal model lip-sync, and what does it cost: what a user gets from
congress_60s_256.mp4, made by the platform's own stages on this machine.

    .venv/bin/python -m bench.lipsync [--preset draft] [--keep DIR] [--steps N]

Every stage runs as its plugin runs it (`Plugin.run` with a real RunContext on a local blob store,
bench/preprocess.py's run_stage): the five preprocessing stages, material_extraction (which picks
the driving clip and the held-out test clips and excludes them from training), then the four
trainers (plugins/trainer: syncnet, audio2lip, generator, refiner, the spec's preset, the platform's
training loop with its checkpoints, evaluations and stop rules), each given the video, the training
set, the materials and the model files it needs, as the host passes them. Reported per sub-model:
the losses at the first and the last metric report (running means over about a second of steps),
the final held-out evaluation, samples per second and the run's seconds (preparing the data and
writing the model file included); and the whole graph's time against the budget (20 minutes on 2
CPU cores).

Then the answer videos, as the render stage makes them (plugins.lipsync.render.render_video with
the graph's crops, pasted and blended into the full frames, encoded to MP4 with the sound): for
unseen audio (../shared/samples/drive_speech_8s_c.wav, another voice) and for the first chosen test
clip's own sound (the same voice, words never trained on); the floor (the driving clip unchanged
under the same audio) for both; and the ceiling, the real video of the test clip with its sound.
Each is measured by the platform's sync measure (plugins.lipsync.sync_measure, on the MP4 as a user
plays it): correlation at offset 0, the best one and its offset, the confidence (best minus the
median over the offsets within a second either way) and the speech frames that counted. The render should beat the floor
clearly and peak within a frame of 0. Other work on the machine makes the timings noisy.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import click
import torch

from bench.intake import SAMPLES
from bench.preprocess import UPSTREAM, run_stage
from host.storage.blobs import blob_key
from host.storage.local import LocalBlobStore
from plugins.crop.server import Crop
from plugins.lipsync.graph import load_graph
from plugins.lipsync.render import model_crops, render_video
from plugins.lipsync.sync_measure import SyncMeasure, measure_frames, measure_video
from plugins.material_extraction.server import MaterialExtraction
from plugins.media.audio import SAMPLE_RATE, read_audio, write_wav
from plugins.media.frames import read_frames
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.plugin import Plugin
from plugins.trainer.plugin import Trainer
from plugins.trainer.spec import Spec, load_spec
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

VIDEO = "congress_60s_256.mp4"
UNSEEN_AUDIO = "drive_speech_8s_c.wav"
TEST_SECONDS = 10
DRIVING_SECONDS = 5
TRAIN_BUDGET_S = 20 * 60
ORDER = ("syncnet", "audio2lip", "generator", "refiner")
NOT_LOSSES = ("lr", "samples_per_second")


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


def train_graph(inputs: list[LocalInput], blobs: LocalBlobStore, root: Path, preset: str, spec: Spec) -> tuple[dict[str, LocalInput], float]:
    """The four trainers one after the other, each reported; their model files and the seconds."""
    models: dict[str, LocalInput] = {}
    started = time.perf_counter()
    for name in ORDER:
        trainer = Recorded(Trainer(name, spec=spec))
        upstream = [models[need] for need in trainer.plugin.submodel.needs]
        seconds, outputs = run_stage(trainer, inputs + upstream, blobs, root, {"preset": preset})
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
        if name == "audio2lip":
            click.echo(f"  opening gain {metadata['gain']:.2f}, the recording's sound-to-mouth offset {metadata['av_offset']:+d} frames")
    return models, time.perf_counter() - started


def chosen_test_clip(materials: dict) -> dict:
    wanted = materials["chosen"]["tests"][0]
    return next(clip for clip in materials["test_clips"] if clip["id"] == wanted)


def row(case: str, kind: str, measured: SyncMeasure) -> str:
    m = measured
    return f"{case:<24} {kind:<8} {m.lag0:>+7.3f} {m.best:>+7.3f} {m.lag:>+7d} {m.confidence:>11.3f} {m.frames:>7d}"


@click.command()
@click.option("--preset", default="draft", show_default=True, type=click.Choice(["draft", "standard", "high"]))
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="Keep the model files, materials.json and the MP4s here.")
@click.option("--steps", type=int, help="Override every sub-model's iterations (a quick check of the whole path).")
def main(preset: str, keep: Path | None, steps: int | None) -> None:
    if not SAMPLES.is_dir():
        raise click.ClickException(f"sample media not found at {SAMPLES}")
    with tempfile.TemporaryDirectory(prefix="bench-lipsync-") as tmp:
        root = Path(tmp)
        out = keep or root / "out"
        out.mkdir(parents=True, exist_ok=True)
        blobs = LocalBlobStore(root / "blobs")
        video = SAMPLES / VIDEO
        started = time.perf_counter()
        submitted, training_set = preprocessed(video, blobs, root, preset)
        click.echo(f"preprocessed {VIDEO} ({preset}) in {time.perf_counter() - started:.1f} s")
        seconds, outputs = run_stage(MaterialExtraction(), [submitted, training_set], blobs, root, {"preset": preset})
        materials_input = next(item for item in outputs if item.ref.kind == "materials")
        materials = json.loads(materials_input.path.read_text())
        clip = next(c for c in materials["driving_clips"] if c["id"] == materials["chosen"]["driving"])
        test = chosen_test_clip(materials)
        click.echo(
            f"materials in {seconds:.1f} s: driving clip {clip['id']} frames {clip['start']}..{clip['stop']} ({clip['loop']}), "
            f"test clips {[(c['start'], c['stop']) for c in materials['test_clips']]}, excluded {materials['exclude_from_training']}"
        )

        models, training_s = train_graph([submitted, training_set, materials_input], blobs, root, preset, spec_with(steps))
        verdict = "within" if training_s <= TRAIN_BUDGET_S else "OVER"
        click.echo(f"whole graph trained in {training_s:.0f} s ({verdict} the {TRAIN_BUDGET_S // 60} min budget)")
        if keep:
            for item in [materials_input, *models.values()]:
                shutil.copyfile(item.path, keep / item.ref.name)

        torch.set_num_threads(2)
        fps = float(materials["fps"])
        crops_for = model_crops(load_graph({name: item.path for name, item in models.items()}), training_set.path, fps)
        own_sound = read_audio(video)[int(test["start"] / fps * SAMPLE_RATE) : int(test["stop"] / fps * SAMPLE_RATE)]
        own_wav = root / "test_clip_sound.wav"
        write_wav(own_wav, own_sound)
        cases = [("unseen voice", "unseen", SAMPLES / UNSEEN_AUDIO), (f"test clip {test['id']}'s sound", "test", own_wav)]
        rows = []
        for case, slug, audio in cases:
            made = render_video(video, training_set.path, materials, audio, crops_for, out / f"{slug}_render.mp4")
            floor = render_video(video, training_set.path, materials, audio, None, out / f"{slug}_floor.mp4")
            click.echo(f"{case}: {made['frames']} frames rendered at {made['frames_per_second']:.1f} frames/s "
                       f"(the floor at {floor['frames_per_second']:.1f} frames/s)")
            rows.append(row(case, "render", measure_video(Path(made["path"]))))
            rows.append(row(case, "floor", measure_video(Path(floor["path"]))))
        real = (rgb for _, rgb in read_frames(video, int(test["start"]), int(test["stop"])))
        rows.append(row(cases[1][0], "ceiling", measure_frames(real, own_sound, fps)))
        click.echo(f"{'case':<24} {'':<8} {'lag0':>7} {'best':>7} {'offset':>7} {'confidence':>11} {'frames':>7}")
        for line in rows:
            click.echo(line)


if __name__ == "__main__":
    main()
