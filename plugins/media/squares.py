"""A square cut out of a picture at a fractional position: where a face's lower half lies in a
frame is never a whole pixel, and rounding it moves a pasted mouth by up to half a pixel of the
picture it was cut from (two pixels of a 900 px close-up cut from a 128 px crop)."""

from __future__ import annotations

import cv2
import numpy as np


def cut_square(frame: np.ndarray, x0: float, y0: float, side: float, size: int) -> np.ndarray:
    """uint8[size, size, 3]: the square of `side` frame pixels at (x0, y0) (fractional), resized,
    edges repeated past the frame; smoothed first when it shrinks, so that fine detail does not
    alias. Only the square's neighbourhood is touched, whatever the frame's size."""
    height, width = frame.shape[:2]
    side = max(float(side), 1.0)
    margin = 3 + int(np.ceil(side / size))
    left, top = int(np.floor(x0)) - margin, int(np.floor(y0)) - margin
    right, bottom = int(np.ceil(x0 + side)) + margin, int(np.ceil(y0 + side)) + margin
    rows, cols = np.clip(np.arange(top, bottom), 0, height - 1), np.clip(np.arange(left, right), 0, width - 1)
    region = np.ascontiguousarray(frame[rows][:, cols])
    scale = side / size  # region pixels per square pixel; the region's corner sits at -(x0 - left) / scale
    square = resample(region, scale, (left - x0) / scale, (top - y0) / scale, (size, size))
    return np.clip(square + 0.5, 0, 255).astype(np.uint8)


def resample(patch: np.ndarray, scale: float, x0: float, y0: float, size: tuple[int, int]) -> np.ndarray:
    """float32[h, w, 3]: the rectangle of `size` whose top left pixel is at the origin, taken from
    the patch placed with its corner at (x0, y0) and shown at 1 / `scale` of its pixels (scale:
    patch pixels per rectangle pixel; pixel centres at i + 0.5 in both). Cutting a square out of a
    frame and pasting a drawn patch back into one are both this, so a mouth goes through it twice
    between the recording and the answer. Lanczos interpolation, and when shrinking only the blur
    that the smaller grid needs beyond what its own pixels already average (a Gaussian of
    0.5 sqrt(scale^2 - 1) pixels): with bilinear shrinking behind a 0.5 x scale blur and bicubic
    enlarging, a real recording's own lower face cut at 192 px and pasted back into its frames kept
    0.70 of its lips' fine detail (the variance of their Laplacian, anchor_20s_512); with these, all
    of it (1.04)."""
    matrix = np.array([[scale, 0, (0.5 - x0) * scale - 0.5], [0, scale, (0.5 - y0) * scale - 0.5]], np.float64)
    if scale > 1:  # shrinking: average first, so that fine detail does not alias
        patch = cv2.GaussianBlur(patch, (0, 0), 0.5 * np.sqrt(scale * scale - 1.0))
    return cv2.warpAffine(patch, matrix, size, flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
