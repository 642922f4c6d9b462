"""How much each output frame is speech: the weight of audio2lip's lips against the person's mouth at
rest. The graph blends with it at inference, and audio2lip measures the rest pose with it in training,
so that both call the same frames silence."""

from __future__ import annotations

import numpy as np

from plugins.vad.mask import frame_probabilities
from plugins.vad.windows import WINDOW_S, window_count, window_probabilities
from plugins.video_analysis.detectors import VoiceActivity

SILENCE_RAMP = (0.2, 0.6)  # speech probability mapped to 0..1 weight of the predicted lips
RAMP_FRAMES = 5  # the weight is averaged over this many frames: a smooth ramp, no snap


def speech_weight(samples: np.ndarray, fps: float, count: int) -> np.ndarray:
    """float32[count] in [0, 1]: 1 in speech, 0 in silence, ramped over a few frames."""
    windows = window_probabilities(VoiceActivity(), samples, 0, window_count(len(samples)))
    probability = frame_probabilities(windows, WINDOW_S, fps, count)
    low, high = SILENCE_RAMP
    weight = np.clip((probability - low) / (high - low), 0.0, 1.0)
    kernel = np.ones(RAMP_FRAMES) / RAMP_FRAMES
    padded = np.pad(weight, RAMP_FRAMES // 2, mode="edge")
    return np.convolve(padded, kernel, mode="valid")[:count].astype(np.float32)
