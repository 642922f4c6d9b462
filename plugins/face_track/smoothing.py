"""From the face mesh of each frame to a steady square crop box.

The box's centre is the centre of the landmarks' extent and its side a margin times their larger
extent; the mesh reaches from the chin to the middle of the forehead, so a margin of 1.6 leaves
the forehead, the chin and some air inside. Landmarks wobble by a pixel or so from frame to frame
and the mesh grows with the open jaw, so centre and side are smoothed over time with a
Savitzky–Golay filter: zero-phase, so the box neither lags the head nor leads it, and a straight
or evenly curving movement passes unchanged. The side changes only when the person moves nearer
or further, so it is smoothed over a longer window than the centre.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

MARGIN = 1.6
CENTRE_WINDOW_S = 0.5
SIDE_WINDOW_S = 1.0
POLYORDER = 2


def landmark_boxes(landmarks: np.ndarray) -> np.ndarray:
    """x0, y0, x1, y1 of each frame's points; NaN where there are none."""
    boxes = np.full((len(landmarks), 4), np.nan, dtype=np.float32)
    present = np.isfinite(landmarks[:, :, :2]).all(axis=(1, 2))
    points = landmarks[present, :, :2]
    boxes[present, :2] = points.min(axis=1)
    boxes[present, 2:] = points.max(axis=1)
    return boxes


def filled(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Values at every frame: interpolated between frames where they are known, held before the
    first and after the last."""
    frames = np.arange(len(values))
    return np.interp(frames, frames[known], values[known])


def smoothed(values: np.ndarray, window: int) -> np.ndarray:
    """Zero-phase Savitzky–Golay smoothing with an odd window no longer than the series."""
    window = min(window, len(values))
    window -= 1 - window % 2
    if window <= POLYORDER:
        return values
    return savgol_filter(values, window, POLYORDER)


def window_frames(seconds: float, fps: float) -> int:
    return int(round(seconds * fps)) | 1


def inside_frame(start: np.ndarray, side: np.ndarray, size: int) -> np.ndarray:
    """The box's start along one axis, shifted to keep it inside 0..size where it fits; a box
    larger than the frame covers the frame, as near the face's centre as that allows."""
    room = size - side
    return np.clip(start, np.minimum(room, 0), np.maximum(room, 0))


def crop_boxes(boxes: np.ndarray, width: int, height: int, fps: float, margin: float = MARGIN) -> np.ndarray:
    """A square crop box per frame (x0, y0, x1, y1), smoothed over time and held across frames
    without a face; all NaN when no frame has one."""
    known = np.isfinite(boxes).all(axis=1)
    if not known.any():
        return np.full((len(boxes), 4), np.nan, dtype=np.float32)
    centre_x = filled((boxes[:, 0] + boxes[:, 2]) / 2, known)
    centre_y = filled((boxes[:, 1] + boxes[:, 3]) / 2, known)
    extent = filled(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), known)
    centre_window = window_frames(CENTRE_WINDOW_S, fps)
    centre_x = smoothed(centre_x, centre_window)
    centre_y = smoothed(centre_y, centre_window)
    side = margin * smoothed(extent, window_frames(SIDE_WINDOW_S, fps))
    x0 = inside_frame(centre_x - side / 2, side, width)
    y0 = inside_frame(centre_y - side / 2, side, height)
    return np.stack([x0, y0, x0 + side, y0 + side], axis=1).astype(np.float32)
