"""Silero's speech probability per 32 ms window, for any run of windows on its own.

The model is recurrent: a window's probability depends on all the sound before it. Each run of
windows starts from a fresh model state warmed up on the second of sound before it, so a run
resumed after a crash computes exactly the probabilities an uninterrupted one would (a fresh
state at a chunk's start shifts some probabilities near the boundary by up to ~0.35 compared with
one unbroken pass, but the same every time).
"""

from __future__ import annotations

import numpy as np

from plugins.video_analysis.detectors import VAD_FRAME, VAD_RATE, VoiceActivity

WINDOW_SAMPLES = VAD_FRAME
WINDOW_S = VAD_FRAME / VAD_RATE
WARM_UP_WINDOWS = 31  # about a second


def window_count(samples: int) -> int:
    return -(-samples // WINDOW_SAMPLES)


def window_probabilities(vad: VoiceActivity, samples: np.ndarray, first: int, stop: int) -> np.ndarray:
    """float32[stop - first]: windows first..stop-1; the last window of the sound is padded with
    silence."""
    start = max(0, first - WARM_UP_WINDOWS)
    vad.reset()
    probabilities = vad.feed(samples[start * WINDOW_SAMPLES : stop * WINDOW_SAMPLES])
    if stop * WINDOW_SAMPLES >= samples.size:
        probabilities = np.concatenate([probabilities, vad.finish()])
    return probabilities[first - start :]
