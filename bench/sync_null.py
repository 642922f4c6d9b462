"""What the proved sync measure gives by chance: its null distribution on real recordings, per clip
length, against which the evaluation's sync margins are set (plugins/evaluation/thresholds.py,
docs/evaluation.md).

    .venv/bin/python -m bench.sync_null [--per-clip 40]

Every sample recording at 25 fps is cut into stretches of each clip length (up to seven per
recording, spread over it). Each stretch's real mouth is measured with its own sound (a true
pairing) and with 20 or more sounds that did not make it (false pairings): other stretches of its
own sound two seconds away or more, every other sample's sound and the drive recordings, and the
evaluation's own unseen voices (plugins/evaluation/voices.py), whose regular robotic rhythm could
line up with a mouth by chance more often than a person's speech does. The false pairings'
confidences are the null: a render whose mouth is no more related to its sound than a stranger's
scores like them. Printed per clip length: the null's quantiles, and how many true pairings clear
its 95th and 99th percentiles and peak within two frames of 0 (the measure's power on real
people; not every recording shows its sync clearly).

Not a speed benchmark: it measures the statistics the margins stand on, in about two minutes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from bench.intake import SAMPLES
from plugins.evaluation import measures, voices
from plugins.evaluation.measure import frames_of
from plugins.lipsync.sync_measure import articulation, correlate, max_lag, speech_frames
from plugins.media.audio import SAMPLE_RATE, read_audio
from plugins.media.frames import probe

FPS = 25.0
LENGTHS_S = (4, 6, 8, 10, 12, 15, 20)
STRETCHES = 7  # per recording and length, at most
OWN_GAP_S = 2.0  # another stretch of the recording's own sound starts this far away at least
VIDEOS = {  # each sample video at 25 fps and the sound it was recorded with
    "congress_60s_256.mp4": "congress_60s_256.mp4",
    "anchor_20s_512.mp4": "anchor_20s_512.mp4",
    "closeup_15s_900.mp4": "closeup_15s_900.mp4",
    "phone_portrait_20s_1080x1920.mp4": "phone_portrait_20s_1080x1920.mp4",
    "speaker_a_8s_512.mp4": "speaker_a_8s_512.mp4",
    "speaker_b_8s_512.mp4": "speaker_b_8s_512.mp4",
    "silent_speaker_10s.mp4": "silent_speaker_10s.wav",
    "speaker_d_6s.mp4": "speaker_d_6s.mp4",
    "speaker_e_5s.mp4": "speaker_e_5s.mp4",
}
OTHER_SOUNDS = ("drive_speech_5s_a.wav", "drive_speech_5s_b.wav", "drive_speech_8s_c.wav", "drive_singing_6s.wav", "drive_tts_6s.wav")


@dataclass(frozen=True)
class Sound:
    """A sound as the measure hears it at 25 fps: what the mouth follows, and where speech is."""

    articulation: np.ndarray
    speech: np.ndarray

    @staticmethod
    def of(samples: np.ndarray) -> Sound:
        count = int(len(samples) / SAMPLE_RATE * FPS)
        return Sound(articulation(samples, FPS, count), speech_frames(samples, FPS, count))

    def cut(self, start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        return self.articulation[start : start + length], self.speech[start : start + length]


def confidence(opening: np.ndarray, sound: tuple[np.ndarray, np.ndarray]) -> tuple[float, int]:
    found = correlate(opening, sound[0], max_lag(FPS), sound[1])
    return found.confidence, found.lag


def starts(total: int, length: int, count: int, step: int = 1) -> list[int]:
    """Up to `count` starts of `length`-frame stretches spread over `total` frames."""
    if total < length:
        return []
    return sorted({int(s) for s in np.linspace(0, total - length, min(count, 1 + (total - length) // step))})


def measure(per_clip: int, seed: int = 0) -> dict[int, dict]:
    rng = np.random.default_rng(seed)
    openings, sounds, owner = {}, {}, {}
    for video, audio in VIDEOS.items():
        if abs(probe(SAMPLES / video).fps - FPS) > 0.01:
            continue
        openings[video] = measures.track(frames_of(SAMPLES / video)).opening
        sounds[video] = Sound.of(read_audio(SAMPLES / audio))
        owner[video] = audio
    for name in OTHER_SOUNDS:
        sounds[name] = Sound.of(read_audio(SAMPLES / name))
    with tempfile.TemporaryDirectory() as folder:
        for voice in voices.available():
            sounds[voice.name] = Sound.of(read_audio(voices.make(voice, Path(folder))))
    results = {}
    for seconds in LENGTHS_S:
        length = int(seconds * FPS)
        true, null, lags = [], [], []
        for video, opening in openings.items():
            for start in starts(len(opening), length, STRETCHES, step=int(FPS)):
                mouth = opening[start : start + length]
                found, lag = confidence(mouth, sounds[video].cut(start, length))
                true.append(found)
                lags.append(lag)
                others = [(video, s) for s in range(0, len(sounds[video].articulation) - length + 1, int(FPS / 2))
                          if abs(s - start) >= OWN_GAP_S * FPS]
                for name, sound in sounds.items():
                    if name != video and owner.get(name, name) != owner[video]:
                        others += [(name, s) for s in range(0, len(sound.articulation) - length + 1, int(FPS))]
                for index in rng.choice(len(others), min(per_clip, len(others)), replace=False):
                    name, s = others[index]
                    null.append(confidence(mouth, sounds[name].cut(s, length))[0])
        if true:
            results[seconds] = {"true": np.array(true), "null": np.array(null), "lags": np.array(lags)}
    return results


@click.command()
@click.option("--per-clip", default=40, show_default=True, help="False pairings per stretch (20 or more).")
def main(per_clip: int) -> None:
    if not SAMPLES.is_dir():
        raise click.ClickException(f"sample media not found at {SAMPLES}")
    results = measure(per_clip)
    click.echo(f"sync confidence (best correlation minus the median over offsets of +-{max_lag(FPS)} frames) by chance, on the samples at {FPS:g} fps")
    click.echo(f"{'length':>6} {'stretches':>9} {'false':>6} {'q50':>6} {'q90':>6} {'q95':>6} {'q99':>6} {'max':>6}   "
               f"{'true q50':>8} {'>q95':>5} {'>q99':>5} {'|lag|<=2':>8}")
    for seconds, found in results.items():
        null, true = found["null"], found["true"]
        q50, q90, q95, q99 = np.quantile(null, [0.5, 0.9, 0.95, 0.99])
        click.echo(
            f"{seconds:>5}s {len(true):>9} {len(null):>6} {q50:>6.3f} {q90:>6.3f} {q95:>6.3f} {q99:>6.3f} {null.max():>6.3f}   "
            f"{np.median(true):>8.3f} {(true > q95).mean():>5.2f} {(true > q99).mean():>5.2f} {(np.abs(found['lags']) <= 2).mean():>8.2f}"
        )


if __name__ == "__main__":
    main()
