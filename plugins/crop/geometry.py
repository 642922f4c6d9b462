"""From the face track's crop box to the face picture training sees, and its landmarks in it.

The box is rounded to whole pixels before cutting, and that integer box is what the training set
stores: a generated face pasted back into exactly that box lands where the original was, with no
half-pixel drift. Where the box leaves the frame the edge pixels are repeated, which keeps the
picture's statistics closer to a face than a black band would (the quality flag says it happened).
"""

from __future__ import annotations

import cv2
import numpy as np


def fill_boxes(crop_box: np.ndarray) -> np.ndarray:
    """Each frame's crop box, the nearest frame's where the track has none (before its first face):
    every frame gets a picture, and the quality flags say which ones show no face."""
    valid = np.flatnonzero(np.isfinite(crop_box).all(axis=1))
    if valid.size == 0:
        return crop_box.copy()
    frames = np.arange(len(crop_box))
    right = np.clip(np.searchsorted(valid, frames), 0, valid.size - 1)
    left = np.clip(right - 1, 0, valid.size - 1)
    nearest = np.where(np.abs(valid[left] - frames) <= np.abs(valid[right] - frames), valid[left], valid[right])
    return crop_box[nearest].astype(np.float32)


def pixel_boxes(boxes: np.ndarray) -> np.ndarray:
    """float32[N, 4]: for each box, the square of whole pixels (x0, y0, x1, y1) with its centre
    and side (its longer side, should the track's box not be square)."""
    boxes = boxes.astype(np.float64)
    side = np.maximum(2.0, np.floor(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) + 0.5))
    left = np.floor((boxes[:, 0] + boxes[:, 2]) / 2 - side / 2 + 0.5)
    top = np.floor((boxes[:, 1] + boxes[:, 3]) / 2 - side / 2 + 0.5)
    return np.stack([left, top, left + side, top + side], axis=1).astype(np.float32)


def outside(box: np.ndarray, width: int, height: int) -> bool:
    return bool(box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height)


def cut(frame: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """The box's pixels resized to size x size; rows and columns beyond the frame repeat its edge."""
    height, width = frame.shape[:2]
    left, top, right, bottom = (int(v) for v in box)
    if outside(box, width, height):
        rows = np.clip(np.arange(top, bottom), 0, height - 1)
        cols = np.clip(np.arange(left, right), 0, width - 1)
        region = np.take(np.take(frame, rows, axis=0), cols, axis=1)
    else:
        region = frame[top:bottom, left:right]
    shrink = right - left > size
    return cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def landmarks_in_crop(landmarks: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """float32[N, 468, 2]: x, y of each frame's face mesh in its resized crop's pixels (NaN stays
    NaN). Pixel i of the crop covers [i, i + 1), as in the frame."""
    scale = size / (boxes[:, 2] - boxes[:, 0])
    return ((landmarks[..., :2] - boxes[:, None, :2]) * scale[:, None, None]).astype(np.float32)


def sharpness(face: np.ndarray) -> float:
    """Variance of the Laplacian of the grey picture: low when the face is blurred."""
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    _, deviation = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))
    return float(deviation[0, 0] ** 2)


def lower_face_squares(boxes: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """float64[N, 3]: x0, y0, side in frame pixels of the lower-face square (`fractions` x0, y0,
    x1, y1 of the crop box) in each frame's crop box."""
    side = boxes[:, 2] - boxes[:, 0]
    return np.stack([boxes[:, 0] + fractions[0] * side, boxes[:, 1] + fractions[1] * side, (fractions[2] - fractions[0]) * side], axis=1)


def lower_size(squares: np.ndarray, most: int, step: int = 32) -> int:
    """The side the lower faces are kept at: their median size in the frame, in steps of `step`
    px, at least 64 and at most `most`: the person's own resolution, so that a large face keeps
    its teeth and lip edges, and a small one is not blown up."""
    native = float(np.median(squares[:, 2]))
    return int(np.clip(round(native / step) * step, 64, most))

