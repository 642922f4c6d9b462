"""The submitted video's sound, fitted to its pictures, as both audio stages read it.

The sound runs from the video's time 0 to the end of its last frame, rounded up to a whole 10 ms
log-mel row: sound past the last frame has no picture to learn from and is cut, and a track that
ends early is padded with silence, so that every frame has its sound and its log-mel row.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from plugins.audio_features.log_mel import HOP, RATE
from plugins.media.audio import NoSound, read_audio
from plugins.media.frames import VideoInfo
from plugins.sdk.errors import StageFailed

NO_SOUND = "no_sound"
NO_SOUND_ADVICE = (
    "record the video again with the microphone on (the avatar learns lip sync from your voice), "
    "then send it as the avatar's next version"
)


def sound_samples(info: VideoInfo) -> int:
    """Samples from time 0 to the end of the last frame, in whole 10 ms rows (the 1e-9 keeps an
    exact product such as 1500 frames at 25 fps from rounding up a row)."""
    rows = math.ceil(info.frame_count * RATE / info.fps - 1e-9)
    return max(rows, 1) * HOP


def fitted_sound(video: Path, info: VideoInfo) -> np.ndarray:
    """16 kHz mono float32 fitted to the pictures; a video without sound fails the stage."""
    try:
        samples = read_audio(video)
    except NoSound as exc:
        raise StageFailed(NO_SOUND, f"the video has no sound: {exc}", NO_SOUND_ADVICE) from exc
    if samples.size == 0:
        raise StageFailed(NO_SOUND, "the video's sound track holds no samples", NO_SOUND_ADVICE)
    wanted = sound_samples(info)
    if samples.size >= wanted:
        return np.ascontiguousarray(samples[:wanted])
    return np.concatenate([samples, np.zeros(wanted - samples.size, np.float32)])
