"""The intake measures as pure functions of small arrays: frame times, luma grids, face boxes, sound
windows and speech probabilities. Nothing here decodes or loads a model, so each is tested on
synthetic numbers (tests/unit/test_intake_measures.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

SILENCE_DBFS = -120.0  # what digital silence reports (a logarithm of zero has no number)
RMS_WINDOW = 512  # samples of 16 kHz sound per loudness window: 32 ms, one voice activity frame
NOISE_PERCENTILE = 10  # the noise floor is the level of the quietest tenth of the windows
CLIP_LEVEL = 0.999  # a sample this close to full scale counts as clipped
DUPLICATE_LEVEL = 0.05  # a frame differing from the one before by less (mean luma levels) repeats it
SPEECH_OFF = 0.35  # speech ends below this probability (it starts at thresholds.SPEECH_THRESHOLD)
EDGE_MARGIN = 0.01  # a face box this close to the picture's edge (share of the side) is cut off
INTERVAL_TOLERANCE = 0.15  # a frame interval this close to a whole number of nominal intervals is regular


# Picture ---------------------------------------------------------------------------------------


def frame_difference(previous: np.ndarray | None, grid: np.ndarray) -> float:
    """Mean absolute luma difference between two coarse grids (uint8); NaN for the first frame."""
    if previous is None or previous.shape != grid.shape:
        return math.nan
    return float(cv2.norm(grid, previous, cv2.NORM_L1) / grid.size)


def mean_lumas(grids: np.ndarray) -> list[float]:
    """Mean luma of each grid of a stack (frames, rows, columns) of uint8, in one pass."""
    return grids.reshape(len(grids), grids[0].size).mean(axis=1).tolist()


def frame_differences(previous: np.ndarray | None, grids: np.ndarray) -> list[float]:
    """frame_difference of each grid of a stack from the grid before it, in one pass; the first is
    compared with `previous`, the grid before the stack (NaN without one)."""
    steps = np.abs(np.diff(grids.astype(np.int16), axis=0)).reshape(len(grids) - 1, grids[0].size).mean(axis=1)
    return [frame_difference(previous, grids[0]), *steps.tolist()]


def duplicated_percent(diffs: Sequence[float], level: float = DUPLICATE_LEVEL) -> float:
    """Share of frames (after the first) that repeat the frame before."""
    values = np.asarray(diffs, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return 0.0
    return float(np.count_nonzero(values < level) / values.size * 100)


def frame_rate(times: Sequence[float]) -> float:
    """Average frames per second over the decoded span."""
    t = np.asarray(times, dtype=np.float64)
    if t.size < 2 or t[-1] <= t[0]:
        return 0.0
    return float((t.size - 1) / (t[-1] - t[0]))


def interval_stats(times: Sequence[float]) -> tuple[float, float]:
    """(variable frame rate, dropped frames), both in percent, from the frame times.

    An interval of a whole number n of nominal intervals (the median) means n-1 frames are missing;
    an interval that is no whole number of them means the frame rate varies."""
    t = np.sort(np.asarray(times, dtype=np.float64))
    deltas = np.diff(t)
    deltas = deltas[deltas > 0]
    if deltas.size < 2:
        return 0.0, 0.0
    nominal = float(np.median(deltas))
    ratio = deltas / nominal
    whole = np.maximum(np.round(ratio), 1)
    irregular = np.abs(ratio - whole) > INTERVAL_TOLERANCE * whole
    missing = np.where(~irregular & (whole >= 2), whole - 1, 0).sum()
    variable = float(np.count_nonzero(irregular) / deltas.size * 100)
    dropped = float(missing / (t.size + missing) * 100)
    return variable, dropped


def inner_crop(luma: np.ndarray, box: tuple[float, float, float, float], keep: float = 0.8) -> np.ndarray | None:
    """The central part of a face box (keep x keep of it), clipped to the picture; None when tiny.
    The centre holds eyes, nose and mouth and leaves out the background at the box's corners."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    half_w, half_h = w * keep / 2, h * keep / 2
    x0, x1 = int(max(0, cx - half_w)), int(min(luma.shape[1], cx + half_w))
    y0, y1 = int(max(0, cy - half_h)), int(min(luma.shape[0], cy + half_h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return np.ascontiguousarray(luma[y0:y1, x0:x1])


def laplacian_variance(gray: np.ndarray) -> float:
    """Sharpness: the variance of the Laplacian (high for crisp edges, low for blur). One OpenCV
    call for mean and deviation: it runs beside the decoder, where every numpy pass costs twice."""
    _, deviation = cv2.meanStdDev(cv2.Laplacian(np.ascontiguousarray(gray), cv2.CV_32F))
    return float(deviation[0, 0]) ** 2


def first_index_at_or_above(bound: float, size: int) -> int:
    """The first whole index i >= bound, within 0..size (so i < b exactly when i < this of b)."""
    return min(size, max(0, math.ceil(bound)))


def background_luma(grid: np.ndarray, box: tuple[float, float, float, float]) -> float | None:
    """Mean luma of what surrounds the head: above the chin, outside the face box widened by half
    its width on each side and raised by half its height. None when the face leaves no background.
    Both regions are rectangles, so two sums give it, without a mask of the grid."""
    x, y, w, h = box
    rows, cols = grid.shape
    chin = first_index_at_or_above(y + h, rows)
    top = min(chin, first_index_at_or_above(y - h / 2, rows))
    left, right = first_index_at_or_above(x - w / 2, cols), first_index_at_or_above(x + w * 1.5, cols)
    right = max(left, right)
    count = chin * cols - (chin - top) * (right - left)
    if count < 4:
        return None
    total = int(grid[:chin].sum(dtype=np.int64)) - int(grid[top:chin, left:right].sum(dtype=np.int64))
    return total / count


def face_cut_off(box: tuple[float, float, float, float], width: int, height: int, margin: float = EDGE_MARGIN) -> bool:
    """Whether the face box reaches the picture's edge (the detector's boxes may extend beyond it)."""
    x, y, w, h = box
    return x < margin * width or y < margin * height or x + w > (1 - margin) * width or y + h > (1 - margin) * height


def face_offset(box: tuple[float, float, float, float], width: int, height: int) -> float:
    """How far the face centre is from the picture centre, in percent of the picture's side (the
    larger of the horizontal and the vertical offset)."""
    x, y, w, h = box
    return max(abs(x + w / 2 - width / 2) / width, abs(y + h / 2 - height / 2) / height) * 100


def head_motion(times: Sequence[float], boxes: Sequence[tuple[float, float, float, float]]) -> float:
    """Typical head speed in face widths a second: the median movement of the face box centre between
    examined frames, divided by the face's width and the time between them."""
    if len(boxes) < 2:
        return 0.0
    t = np.asarray(times, dtype=np.float64)
    b = np.asarray(boxes, dtype=np.float64)
    centres = b[:, :2] + b[:, 2:] / 2
    widths = (b[1:, 2] + b[:-1, 2]) / 2
    dt = np.diff(t)
    ok = (dt > 0) & (widths > 0)
    if not ok.any():
        return 0.0
    speed = np.linalg.norm(np.diff(centres, axis=0), axis=1)[ok] / widths[ok] / dt[ok]
    return float(np.median(speed))


# Sound -----------------------------------------------------------------------------------------


def dbfs(rms: float) -> float:
    """An RMS level (full scale = 1.0) in dB relative to full scale, floored at SILENCE_DBFS."""
    if rms <= 0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20 * math.log10(rms))


def window_rms(audio: np.ndarray, window: int = RMS_WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """RMS of each whole window, and the samples left over for the next call."""
    whole = audio.size // window * window
    frames = audio[:whole].astype(np.float64).reshape(-1, window)
    return np.sqrt((frames**2).mean(axis=1)), audio[whole:].copy()


def noise_floor(window_levels: Sequence[float], percentile: float = NOISE_PERCENTILE) -> float:
    """The level of the quietest windows (between words), in dBFS."""
    levels = np.asarray(window_levels, dtype=np.float64)
    if levels.size == 0:
        return SILENCE_DBFS
    return dbfs(float(np.percentile(levels, percentile)))


def loudness(sum_squares: float, samples: int) -> float:
    """The level of the whole sound track, in dBFS (RMS)."""
    return dbfs(math.sqrt(sum_squares / samples)) if samples else SILENCE_DBFS


def clipping_percent(clipped: int, total: int) -> float:
    return clipped / total * 100 if total else 0.0


def speech_percent(probs: Sequence[float], on: float = 0.5, off: float = SPEECH_OFF) -> float:
    """Share of the sound in speech: a frame starts speech at `on` and speech lasts until below `off`."""
    values = np.asarray(probs, dtype=np.float64)
    if values.size == 0:
        return 0.0
    speaking = False
    count = 0
    for p in values:
        speaking = p >= on or (speaking and p >= off)
        count += speaking
    return count / values.size * 100
