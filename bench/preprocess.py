"""What preprocessing costs: the five stages that turn an accepted video into a training set (vad,
audio_features, face_track, segmentation, crop), run one after the other on this machine, against
the video's own duration and against a plain decode of the same file measured in the same round.

    .venv/bin/python -m bench.preprocess [--repeats 3] [--preset standard]

Each stage runs as its plugin runs it: `Plugin.run` with a real RunContext on a local blob store,
its inputs fetched from the store (the submitted video, and for crop every upstream output), its
outputs stored there. Model loading is part of every run, as in a plugin process. Videos:
congress_60s_256.mp4 (60 s, 256 px), speaker_a_8s_512.mp4 and speaker_b_8s_512.mp4 (8 s, 512 px)
from ../shared/samples, and speaker_a looped to 64 s (stream copy into a temporary file), since
an 8 s clip mostly measures fixed costs. Targets: the whole chain at least as fast as real time
(total / duration <= 1.0). The report gives the medians over the rounds.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import click

from bench.intake import SAMPLES, decode_only, duration_s, looped
from host.storage.blobs import blob_key
from host.storage.local import LocalBlobStore
from plugins.audio_features.server import AudioFeatures
from plugins.crop.server import Crop
from plugins.face_track.server import FaceTrack
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.plugin import Plugin
from plugins.segmentation.server import Segmentation
from plugins.vad.server import Vad
from host.presets import PRESETS_ORDER
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

TARGET = 1.0
UPSTREAM = (Vad(), AudioFeatures(), FaceTrack(), Segmentation())


def run_stage(plugin: Plugin, inputs: list[LocalInput], blobs: LocalBlobStore, folder: Path, parameters: dict) -> tuple[float, list[LocalInput]]:
    """Seconds of the stage's run, and its outputs fetched back as the next stage gets them."""
    stage = plugin.stages[0]
    workdir = folder / f"{stage}-work"
    workdir.mkdir()
    ctx = RunContext(
        avatar_id="bench", stage=stage, run_id=f"{stage}-{folder.name}", attempt=1, parameters=parameters, workdir=workdir,
        inputs=inputs, resume_checkpoint=None, blobs=blobs, emit=lambda event: None,
    )
    started = time.perf_counter()
    plugin.run(ctx)
    elapsed = time.perf_counter() - started
    outputs = []
    for ref in ctx.outputs:
        path = folder / f"{stage}-{ref.name}"
        blobs.get_file(ref.key, path, ref.sha256)
        outputs.append(LocalInput(ref, path))
    return elapsed, outputs


def preprocess(video: Path, blobs: LocalBlobStore, folder: Path, preset: str) -> dict[str, float]:
    """One run of the chain on the video; seconds per stage."""
    info = blobs.put_file(blob_key("bench", "uploads", folder.name, "video"), video)
    submitted = LocalInput(plugin_pb.ArtifactRef(key=info.key, kind="video", sha256=info.sha256, size=info.size, name="video"), video)
    seconds, produced = {}, [submitted]
    for plugin in UPSTREAM:
        seconds[plugin.stages[0]], outputs = run_stage(plugin, [submitted], blobs, folder, {})
        produced.extend(outputs)
    seconds["crop"], _ = run_stage(Crop(), produced, blobs, folder, {"preset": preset})
    return seconds


@click.command()
@click.option("--repeats", default=3, show_default=True, help="Rounds of decoding then preprocessing each video; medians count.")
@click.option("--preset", type=click.Choice(PRESETS_ORDER), default="standard", show_default=True, help="Crop size of the training set.")
def main(repeats: int, preset: str) -> None:
    if not SAMPLES.is_dir():
        raise click.ClickException(f"sample media not found at {SAMPLES}")
    with tempfile.TemporaryDirectory(prefix="bench-preprocess-") as tmp:
        root = Path(tmp)
        blobs = LocalBlobStore(root / "blobs")
        videos = [SAMPLES / "congress_60s_256.mp4", SAMPLES / "speaker_a_8s_512.mp4", SAMPLES / "speaker_b_8s_512.mp4"]
        videos.append(looped(SAMPLES / "speaker_a_8s_512.mp4", root / "speaker_a_64s_512.mp4", 8))
        stages = [p.stages[0] for p in UPSTREAM] + ["crop"]
        click.echo(f"{os.cpu_count()} CPU cores, preset {preset}, medians of {repeats} rounds; seconds per stage:")
        click.echo(
            f"{'video':<24} {'length':>7} {'decode':>7} " + " ".join(f"{s:>14}" for s in stages)
            + f" {'total':>7} {'x real':>7} {'x decode':>9}"
        )
        worst = 0.0
        for video in videos:
            length = duration_s(video)
            rounds = []
            for index in range(repeats):
                folder = root / f"{video.stem}-{index}"
                folder.mkdir()
                decode = decode_only(video)
                rounds.append((decode, preprocess(video, blobs, folder, preset)))
            per_stage = {s: statistics.median(r[1][s] for r in rounds) for s in stages}
            total = statistics.median(sum(r[1].values()) for r in rounds)
            realtime = total / length
            versus_decode = statistics.median(sum(r[1].values()) / r[0] for r in rounds)
            worst = max(worst, realtime)
            note = "" if realtime <= TARGET else "  (slower than real time)"
            click.echo(
                f"{video.name:<24} {length:>6.1f}s {statistics.median(r[0] for r in rounds):>7.2f} "
                + " ".join(f"{per_stage[s]:>14.2f}" for s in stages)
                + f" {total:>7.2f} {realtime:>7.2f} {versus_decode:>9.1f}{note}"
            )
        click.echo(f"worst total / duration: {worst:.2f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
