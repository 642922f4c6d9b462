"""From speech probabilities per 32 ms window to a speech flag per video frame.

A frame's probability is the mean of the window probabilities over the frame's time, weighted by
how much of it each window covers (time past the end of the sound counts as silence). The flag
is a hysteresis on it, so a probability that wavers around one threshold does not flicker: speech
starts at 0.5 and lasts while the probability stays at 0.35 or more. Pauses shorter than 0.2 s
between words are then closed, and bursts shorter than 0.1 s (a click, a breath) dropped: a
person's speech does not switch on and off faster than that.
"""

from __future__ import annotations

import numpy as np

ENTER = 0.5
LEAVE = 0.35
SHORTEST_GAP_S = 0.2
SHORTEST_SPEECH_S = 0.1


def frame_probabilities(windows: np.ndarray, window_s: float, fps: float, frame_count: int) -> np.ndarray:
    """float32[frame_count]: the mean probability over [i / fps, (i + 1) / fps) for frame i."""
    edges = np.arange(windows.size + 1) * window_s
    covered = np.concatenate([[0.0], np.cumsum(windows, dtype=np.float64) * window_s])
    at_frame_edges = np.interp(np.arange(frame_count + 1) / fps, edges, covered)
    return np.clip(np.diff(at_frame_edges) * fps, 0.0, 1.0).astype(np.float32)


def hysteresis(probability: np.ndarray, enter: float = ENTER, leave: float = LEAVE) -> np.ndarray:
    speech = np.zeros(probability.size, dtype=bool)
    on = False
    for index, value in enumerate(probability):
        on = value >= leave if on else value >= enter
        speech[index] = on
    return speech


def _runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, stop, value) of each run of equal values."""
    if mask.size == 0:
        return []
    starts = np.concatenate([[0], np.flatnonzero(mask[1:] != mask[:-1]) + 1])
    stops = np.concatenate([starts[1:], [mask.size]])
    return [(int(a), int(b), bool(mask[a])) for a, b in zip(starts, stops)]


def close_gaps(speech: np.ndarray, shortest: int) -> np.ndarray:
    """Fills pauses of fewer than `shortest` frames that have speech on both sides."""
    closed = speech.copy()
    for start, stop, value in _runs(speech):
        if not value and start > 0 and stop < speech.size and stop - start < shortest:
            closed[start:stop] = True
    return closed


def drop_bursts(speech: np.ndarray, shortest: int) -> np.ndarray:
    """Clears speech of fewer than `shortest` frames."""
    kept = speech.copy()
    for start, stop, value in _runs(speech):
        if value and stop - start < shortest:
            kept[start:stop] = False
    return kept


def frames_in(seconds: float, fps: float) -> int:
    """The fewest frames that last at least `seconds` (5 frames for 0.2 s at 25 fps)."""
    return max(1, int(np.ceil(seconds * fps - 1e-9)))


def speech_mask(probability: np.ndarray, fps: float) -> np.ndarray:
    speech = hysteresis(probability)
    speech = close_gaps(speech, frames_in(SHORTEST_GAP_S, fps))
    return drop_bursts(speech, frames_in(SHORTEST_SPEECH_S, fps))
