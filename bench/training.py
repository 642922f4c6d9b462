"""Training speed per preset: samples per second of each sub-model, for every preset, on the same
video, against the draft preset's (the baseline).

    .venv/bin/python -m bench.training [--steps 20] [--presets draft,standard,high]

congress_60s_256.mp4 is preprocessed by the platform's own stages (bench/lipsync.py), once for each
preset's crop size, and its materials are chosen; then each trainer runs a short fixed number of
steps (`--steps`, the same for every preset, the platform's training loop and the preset's batch
size, network sizes and crop) and its samples per second are read from the run's summary (steps
times the batch over the seconds spent in steps: preparing the data and writing the model are left
out). The figures are measured in a child process per device: the CPU one with the GPU hidden, and,
where torch sees a GPU, a second one on CUDA, for the second column; without one it says so.
A few steps say how fast a preset trains, not how long it trains (its iterations do: the ratio to
draft and the preset's iterations give the whole graph's time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import torch

from bench.intake import SAMPLES
from bench.lipsync import ORDER, Recorded, spec_with
from bench.preprocess import UPSTREAM, run_stage
from host.storage.blobs import blob_key
from host.storage.local import LocalBlobStore
from plugins.crop.server import Crop
from plugins.material_extraction.server import MaterialExtraction
from plugins.sdk.context import LocalInput
from plugins.trainer.plugin import Trainer
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

VIDEO = "congress_60s_256.mp4"
PRESETS = ("draft", "standard", "high")
BASELINE = "draft"


def measure(presets: list[str], steps: int) -> dict[str, dict[str, dict]]:
    """preset -> sub-model -> {samples_per_second, batch_size, steps, seconds}, on the device the
    trainers choose (the GPU when torch sees one)."""
    spec = spec_with(steps)
    found: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        root = Path(tmp)
        blobs = LocalBlobStore(root / "blobs")
        video = SAMPLES / VIDEO
        info = blobs.put_file(blob_key("bench", "uploads", "training", "video"), video)
        submitted = LocalInput(plugin_pb.ArtifactRef(key=info.key, kind="video", sha256=info.sha256, size=info.size, name="video"), video)
        upstream = [submitted]
        for plugin in UPSTREAM:
            upstream.extend(run_stage(plugin, [submitted], blobs, root, {})[1])
        for preset in presets:
            folder = root / preset
            folder.mkdir()
            _, made = run_stage(Crop(), upstream, blobs, folder, {"preset": preset})
            training_set = next(item for item in made if item.ref.kind == "training_set")
            _, outputs = run_stage(MaterialExtraction(), [submitted, training_set], blobs, folder, {"preset": preset})
            inputs = [submitted, training_set, next(item for item in outputs if item.ref.kind == "materials")]
            models = {}
            found[preset] = {}
            for name in ORDER:
                trainer = Recorded(Trainer(name, spec=spec))
                needs = [models[need] for need in trainer.plugin.submodel.needs]
                seconds, produced = run_stage(trainer, inputs + needs, blobs, folder, {"preset": preset})
                models[name] = next(item for item in produced if item.ref.kind == "model")
                summary = trainer.summary
                found[preset][name] = {
                    "samples_per_second": summary["samples_per_second"], "batch_size": summary["config"]["batch_size"],
                    "steps": summary["iterations"], "seconds": round(seconds, 1),
                }
                print(f"{preset} {name}: {summary['samples_per_second']:.1f} samples/s", file=sys.stderr, flush=True)
    return found


def in_child(device: str, presets: list[str], steps: int) -> dict:
    """The figures measured by a fresh process: with CUDA hidden for the CPU column."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="") if device == "cpu" else dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-m", "bench.training", "--child", "--presets", ",".join(presets), "--steps", str(steps)],
        env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise click.ClickException(f"the {device} measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cell(figures: dict | None, preset: str, name: str) -> tuple[str, str]:
    """Samples per second and the ratio to the baseline preset's, or why there is none."""
    if figures is None:
        return "no GPU", "-"
    value = figures[preset][name]["samples_per_second"]
    base = figures[BASELINE][name]["samples_per_second"]
    return f"{value:.1f}", f"{value / base:.2f}x"


@click.command()
@click.option("--steps", default=20, show_default=True, help="Training steps of every sub-model in every preset.")
@click.option("--presets", default=",".join(PRESETS), show_default=True, help="Comma-separated presets; draft is always measured (the baseline).")
@click.option("--child", is_flag=True, hidden=True, help="Measure here and print the figures as JSON (run by the parent).")
def main(steps: int, presets: str, child: bool) -> None:
    if not SAMPLES.is_dir():
        raise click.ClickException(f"sample media not found at {SAMPLES}")
    chosen = [BASELINE] + [p.strip() for p in presets.split(",") if p.strip() and p.strip() != BASELINE]
    if child:
        click.echo(json.dumps(measure(chosen, steps)))
        return
    cpu = in_child("cpu", chosen, steps)
    cuda = in_child("cuda", chosen, steps) if torch.cuda.is_available() else None
    gpu = torch.cuda.get_device_name(0) if cuda is not None else "none on this machine"
    click.echo(f"{VIDEO}, {steps} steps of each sub-model per preset; CPU: {os.cpu_count()} cores (load {os.getloadavg()[0]:.1f}); GPU: {gpu}")
    click.echo(f"{'preset':<9} {'sub-model':<10} {'batch':>5} {'cpu samples/s':>14} {'x draft':>8} {'cuda samples/s':>15} {'x draft':>8}")
    for preset in chosen:
        for name in ORDER:
            cpu_value, cpu_ratio = cell(cpu, preset, name)
            cuda_value, cuda_ratio = cell(cuda, preset, name)
            batch = cpu[preset][name]["batch_size"]
            click.echo(f"{preset:<9} {name:<10} {batch:>5} {cpu_value:>14} {cpu_ratio:>8} {cuda_value:>15} {cuda_ratio:>8}")


if __name__ == "__main__":
    main()
