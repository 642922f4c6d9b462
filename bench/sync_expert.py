"""How well the sync expert tells a person's own sync from off-sync on speech it never trained on.

    .venv/bin/python -m bench.sync_expert [--video NAME ...] [--preset draft] [--seeds 3] [--keep DIR] [--reuse]

For each recording (default: the four of bench.lipsync), the training set and the materials are made
as bench.lipsync makes them (kept in DIR/<recording> with --keep; --reuse takes them from there, so
bench.lipsync --keep DIR and this share them); then the expert is trained as the platform trains it
(the preset's config, the weights of its best held-out loss kept) once per seed, and its held-out
accuracy printed: half in-sync windows, a quarter shifted by 5-15 frames, a quarter from elsewhere,
so chance is 0.5. Beside it, in the same run, the control: the same expert trained on labels
shuffled at random. It shows what the network's form gives before it learns anything from the
person: a correlation of the sound's and the lips' curves leans towards sync even with random
weights, so the control may sit above chance, and the gap to it is what the person's own
recording taught. The seeds matter: a 15-20 s take holds out 30-50 windows.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from unittest import mock

import click
import numpy as np
import torch

from bench.intake import SAMPLES
from bench.lipsync import VIDEOS, training_inputs
from host.storage.local import LocalBlobStore
from plugins.lipsync import syncnet
from plugins.sdk.training import Setup
from plugins.trainer.spec import load_spec

PAIRS = syncnet.pairs  # the expert's own pairs, which the control's labels are shuffled from


def trained_accuracy(training_set: Path, materials: dict, config: dict, seed: int, shuffled: bool, workdir: Path) -> tuple[float, float]:
    """(held-out accuracy at the best held-out loss, seconds): one expert trained to its end; with
    `shuffled`, its training labels (never the held-out ones) are permuted at random."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()

    def training_pairs(starts, frames, count, window, source):
        chosen, audio, labels = PAIRS(starts, frames, count, window, source)
        return chosen, audio, (rng.permutation(labels) if shuffled and source is rng else labels)

    with mock.patch.object(syncnet, "pairs", training_pairs):
        trainable = syncnet.prepare(Setup(training_set, materials, {}, config, torch.device("cpu"), rng, workdir, lambda fraction, message: None))
        best = (np.inf, 0.0)
        for iteration in range(int(config["iterations"])):
            trainable.step(iteration)
            if (iteration + 1) % int(config["checkpoint_every"]) == 0:
                found = trainable.evaluate()
                best = min(best, (found["held_out_loss"], found["held_out_accuracy"]))
    return best[1], time.perf_counter() - started


@click.command()
@click.option("--video", "videos", multiple=True, default=VIDEOS, show_default=True, help="Samples in ../shared/samples.")
@click.option("--preset", default="draft", show_default=True, type=click.Choice(["draft", "standard", "high"]))
@click.option("--seeds", default=3, show_default=True, help="Experts trained per recording.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="Keep the training sets and materials here.")
@click.option("--reuse", is_flag=True, help="Take the training sets and materials --keep holds from an earlier run.")
def main(videos: tuple[str, ...], preset: str, seeds: int, keep: Path | None, reuse: bool) -> None:
    if not SAMPLES.is_dir():
        raise click.ClickException(f"sample media not found at {SAMPLES}")
    if reuse and keep is None:
        raise click.ClickException("--reuse takes what --keep holds: give --keep DIR too")
    torch.set_num_threads(2)
    config = load_spec().submodels["syncnet"].presets[preset]
    root = Path(tempfile.mkdtemp(prefix="bench-sync-expert-"))
    rows = []
    try:
        for name in videos:
            out = (keep or root / "kept") / Path(name).stem
            _, training_set, materials = training_inputs(SAMPLES / name, preset, out, reuse, LocalBlobStore(root / "blobs"), root)
            found = [trained_accuracy(training_set.path, json.loads(materials.path.read_text()), config, seed, False, root) for seed in range(seeds)]
            control, _ = trained_accuracy(training_set.path, json.loads(materials.path.read_text()), config, 0, True, root)
            accuracies = [accuracy for accuracy, _ in found]
            rows.append((name, accuracies, control, float(np.mean([seconds for _, seconds in found]))))
            click.echo(f"{name}: held-out accuracy {', '.join(f'{a:.3f}' for a in accuracies)} (mean {np.mean(accuracies):.3f}); "
                       f"shuffled labels {control:.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    click.echo(f"\n{'recording':<36} {'mean':>6} {'lowest':>7} {'shuffled':>9} {'s/expert':>9}   (target 0.8; chance 0.5; shuffled: what the form alone gives)")
    for name, accuracies, control, seconds in rows:
        click.echo(f"{name:<36} {np.mean(accuracies):>6.3f} {min(accuracies):>7.3f} {control:>9.3f} {seconds:>9.1f}")


if __name__ == "__main__":
    main()
