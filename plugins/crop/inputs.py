"""The upstream stages' outputs, read and checked against the video before any frame is cut.

Every per-frame array must have one row per frame of this video at its rate; a mismatch means the
outputs came from another video or another version of a stage, and a training set made from them
would pair faces with the wrong sound, so the run fails instead.
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugins.media.audio import SAMPLE_RATE
from plugins.media.frames import VideoInfo
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.errors import StageFailed

EXTRACTOR = "log_mel"  # the audio features the training set carries
RERUN = "submit the video again so that every preprocessing stage runs on it afresh"


@dataclass(frozen=True)
class Upstream:
    speech: np.ndarray  # bool[N]
    speech_probability: np.ndarray  # float32[N]
    mel: np.ndarray  # float32[T, 80]
    mel_rate: float
    found: np.ndarray  # bool[N]
    landmarks: np.ndarray  # float32[N, 468, 3]
    crop_box: np.ndarray  # float32[N, 4]
    audio: Path
    runs: dict[str, str]  # stage -> the run that made its input


def read_upstream(ctx: RunContext, info: VideoInfo) -> Upstream:
    speech = _npz(ctx.input("speech_mask"), "vad", info, ("probability", "speech"))
    track = _npz(ctx.input("face_track"), "face_track", info, ("found", "landmarks", "crop_box"))
    _npz(ctx.input("matte"), "segmentation", info, ())
    mel = _load(_log_mel(ctx).path, "audio_features", ("features", "rate"))
    return Upstream(
        speech=speech["speech"].astype(bool),
        speech_probability=speech["probability"].astype(np.float32),
        mel=mel["features"].astype(np.float32),
        mel_rate=float(mel["rate"]),
        found=track["found"].astype(bool),
        landmarks=track["landmarks"].astype(np.float32),
        crop_box=track["crop_box"].astype(np.float32),
        audio=_wav(ctx.input("audio")),
        runs=stage_runs(ctx.inputs),
    )


def stage_runs(inputs: list[LocalInput]) -> dict[str, str]:
    """Which run made each input, from its blob key `avatars/<avatar>/<stage>/<run>/<name>`."""
    runs = {}
    for item in inputs:
        parts = item.ref.key.split("/")
        if len(parts) == 5 and parts[0] == "avatars" and parts[2] != "uploads":
            runs[parts[2]] = parts[3]
    return runs


def _log_mel(ctx: RunContext) -> LocalInput:
    kinds = [item for item in ctx.inputs if item.ref.kind == "audio_features"]
    for item in kinds:
        if json.loads(item.ref.metadata_json or "{}").get("extractor") == EXTRACTOR:
            return item
    found = ", ".join(json.loads(i.ref.metadata_json or "{}").get("extractor", "unnamed") for i in kinds) or "none"
    raise StageFailed(
        "missing_input",
        f"the crop stage needs the {EXTRACTOR} audio features, and got {found}",
        "run the audio_features stage on this submission first",
    )


def _wav(path: Path) -> Path:
    """The sound file, once it is known to be what the training set promises: 16 kHz mono PCM."""
    try:
        with wave.open(str(path), "rb") as sound:
            layout = (sound.getframerate(), sound.getnchannels(), sound.getsampwidth())
    except (OSError, EOFError, wave.Error) as exc:
        raise StageFailed("bad_input", f"the audio_features sound cannot be read as a wav file ({exc})", RERUN) from exc
    if layout != (SAMPLE_RATE, 1, 2):
        raise StageFailed("bad_input", f"the audio_features sound is {layout[0]} Hz, {layout[1]} channels, {8 * layout[2]} bit, not 16 kHz mono 16-bit", RERUN)
    return path


def _load(path: Path, stage: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in keys}
    except (OSError, ValueError, KeyError) as exc:
        raise StageFailed("bad_input", f"the {stage} output cannot be read ({exc})", RERUN) from exc


def _npz(path: Path, stage: str, info: VideoInfo, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays `keys` of a per-frame output, after checking its frame count and rate (only
    the named arrays are read: a matte's pictures are never loaded here)."""
    data = _load(path, stage, ("fps", "frame_count", *keys))
    fps, count = float(data["fps"]), int(data["frame_count"])
    wrong = [key for key in keys if len(data[key]) != info.frame_count]
    if count != info.frame_count or abs(fps - info.fps) > 1e-3 or wrong:
        raise StageFailed(
            "inconsistent_inputs",
            f"the {stage} output is for {count} frames at {fps:g} fps"
            f"{' (' + ', '.join(wrong) + ' with other row counts)' if wrong else ''}, "
            f"but the video has {info.frame_count} frames at {info.fps:g} fps",
            RERUN,
        )
    return data
