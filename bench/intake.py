"""What the intake check costs: seconds of checking per minute of video, against the time to merely
decode the same file (every video and audio frame, PyAV's default decoder settings), measured in
the same run. Each round decodes the file, then checks it, and the ratio is taken per round, so a
machine that slows down for a while (shared cores) slows both sides of that round; the report gives
the medians over the rounds.

    .venv/bin/python -m bench.intake [--repeats 11] [--upscaled]

Videos: congress_60s_256.mp4 (60 s, 256 px) and speaker_a_8s_512.mp4 (8 s, 512 px) from
../shared/samples, and the 512 px clip looped to 64 s (stream copy into a temporary file), since an
8 s clip mostly measures the fixed cost of examining at least 40 frames. --upscaled adds congress
scaled to 720 px (re-encoded into a temporary file; takes a while), closer to what phones send.

The check runs with its models loaded (as in a running plugin); the first, cold check (loading
mediapipe and the voice activity model) is reported apart. Target: check / decode <= 1.5.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import av
import click

from plugins.video_analysis.check import check_video

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
TARGET = 1.5
NO_LIMIT = 1 << 40


def decode_only(path: Path) -> float:
    """The baseline: what any PyAV user does to read a video, every packet of every stream decoded."""
    started = time.perf_counter()
    with av.open(str(path)) as container:
        for _ in container.decode(*container.streams):
            pass
    return time.perf_counter() - started


def checking(path: Path) -> float:
    started = time.perf_counter()
    check_video(path, "draft", NO_LIMIT)
    return time.perf_counter() - started


def duration_s(path: Path) -> float:
    with av.open(str(path)) as container:
        return container.duration / av.time_base


def looped(src: Path, dst: Path, times: int) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(times - 1), "-i", str(src), "-c", "copy", str(dst)], check=True)
    return dst


def upscaled(src: Path, dst: Path, side: int) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-vf", f"scale={side}:{side}", "-c:v", "libx264", "-preset", "veryfast",
         "-crf", "20", "-c:a", "copy", str(dst)],
        check=True,
    )
    return dst


def rounds(path: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Decode then check, `repeats` times: the seconds of each, round by round."""
    decodes, checks = [], []
    for _ in range(repeats):
        decodes.append(decode_only(path))
        checks.append(checking(path))
    return decodes, checks


@click.command()
@click.option("--repeats", default=11, show_default=True, help="Rounds of decoding then checking each video; medians count.")
@click.option("--upscaled", "with_upscaled", is_flag=True, help="Also congress scaled to 720 px.")
def main(repeats: int, with_upscaled: bool) -> None:
    if not SAMPLES.is_dir():
        raise click.ClickException(f"sample media not found at {SAMPLES}")
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        videos = [SAMPLES / "congress_60s_256.mp4", SAMPLES / "speaker_a_8s_512.mp4"]
        videos.append(looped(SAMPLES / "speaker_a_8s_512.mp4", Path(tmp) / "speaker_a_64s_512.mp4", 8))
        if with_upscaled:
            click.echo("re-encoding congress at 720 px ...")
            videos.append(upscaled(SAMPLES / "congress_60s_256.mp4", Path(tmp) / "congress_60s_720.mp4", 720))

        cold = checking(videos[0])  # loads the models, as a plugin does on its first run
        click.echo(f"first (cold) check of {videos[0].name}: {cold:.2f} s, models included")
        click.echo(f"{'video':<26} {'length':>7} {'decode s/min':>13} {'check s/min':>12} {'ratio':>6}  target <= {TARGET} (medians of {repeats} rounds)")
        worst = 0.0
        for path in videos:
            minutes = duration_s(path) / 60
            decodes, checks = rounds(path, repeats)
            ratio = statistics.median(c / d for d, c in zip(decodes, checks))
            worst = max(worst, ratio)
            note = "" if ratio <= TARGET else "  (over target)"
            click.echo(
                f"{path.name:<26} {duration_s(path):>6.1f}s {statistics.median(decodes) / minutes:>13.3f} "
                f"{statistics.median(checks) / minutes:>12.3f} {ratio:>6.2f}{note}"
                f"   (best round {min(c / d for d, c in zip(decodes, checks)):.2f})"
            )
        click.echo(f"worst ratio {worst:.2f}")


if __name__ == "__main__":
    main()
