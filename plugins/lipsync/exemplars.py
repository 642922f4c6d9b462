"""The person's own mouths, sharp, that the refiner copies detail from.

A generator trained for minutes with pixel losses draws the average of the mouths that fit its map:
the right shape, without teeth or crisp lip edges (about half the recording's sharpness around the
lips). No loss can bring back detail that the refiner has never seen for this mouth shape; the
training set holds it. So the refiner is given, beside the generator's picture, the recorded lower
face whose lips are shaped most like the ones being drawn, at the person's own resolution, laid
(an affine fit of its 40 lip points onto the drawn ones) where the drawn lips are, and learns to
take its teeth and edges where the shapes agree (reference-based super-resolution, on the one face
it ever draws).

The bank is about a hundred training frames picked to span the person's mouth shapes (farthest-point
sampling: the widest open, the roundest, the closed), stored in the refiner's file, so that a
render looks them up by the lips it is about to draw. In training, a frame never gets itself or a
frame within `gap` of it as its exemplar: a render never has its own mouth to copy from either.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

OUTER = slice(0, 20)  # the outer lip contour among the 40 lip points (plugins/lipsync/data.py LIPS)
WINDOW = (1.0, 0.6)  # half-axes of the mouth's ellipse, in the lips' widths: the lips and what moves with them
STRETCH = (0.8, 1.25)  # the most an exemplar is shrunk or stretched along any direction to fit the lips drawn
FADE = 1.25  # the window is 0 from this many times the ellipse outwards, 1 inside 2 - FADE times it


def shapes(lips: np.ndarray) -> np.ndarray:
    """float32[N, 80]: each frame's lips around their own centre (box units): a shape that does not
    depend on where the mouth is."""
    lips = np.asarray(lips, np.float32)
    return (lips - lips.mean(axis=1, keepdims=True)).reshape(len(lips), -1)


def pick_bank(lips: np.ndarray, frames: np.ndarray, count: int) -> np.ndarray:
    """The `count` frames among `frames` whose lip shapes span the person's most (farthest-point
    sampling, from the frame farthest from the mean shape), in ascending order."""
    frames = np.asarray(frames)
    if len(frames) <= count:
        return frames
    points = shapes(lips[frames])
    chosen = [int(np.argmax(np.linalg.norm(points - points.mean(axis=0), axis=1)))]
    distance = np.linalg.norm(points - points[chosen[0]], axis=1)
    while len(chosen) < count:
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return np.sort(frames[chosen])


def nearest(bank_lips: np.ndarray, lips: np.ndarray, banned: np.ndarray | None = None) -> np.ndarray:
    """int64[B]: for each of `lips` the bank entry whose shape is closest; `banned` bool[B, K] rules
    entries out (a row with every entry ruled out keeps them all: a bank smaller than the gap)."""
    distance = np.linalg.norm(shapes(lips)[:, None] - shapes(bank_lips)[None], axis=2)
    if banned is not None:
        distance = np.where(banned & ~banned.all(axis=1, keepdims=True), np.inf, distance)
    return distance.argmin(axis=1)


def window(lips: np.ndarray, side: int) -> np.ndarray:
    """float32[B, side, side]: where an exemplar's detail may go: 1 over the mouth (an ellipse
    WINDOW times the lips' width across and high), fading to 0 at FADE times that. Away from the
    mouth the exemplar was moved with the lips, not with the chin or the collar beside them, and
    its detail would draw them twice."""
    outer = np.asarray(lips, np.float32)[:, OUTER] * side
    width = np.maximum(outer[..., 0].max(axis=1) - outer[..., 0].min(axis=1), 1.0)
    centre = outer.mean(axis=1)
    grid = np.arange(side, dtype=np.float32) + 0.5
    dx = (grid[None, None, :] - centre[:, 0, None, None]) / (WINDOW[0] * width)[:, None, None]
    dy = (grid[None, :, None] - centre[:, 1, None, None]) / (WINDOW[1] * width)[:, None, None]
    return np.clip((FADE - np.sqrt(dx * dx + dy * dy)) / (FADE - 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def placed(bank: np.ndarray, bank_lips: np.ndarray, lips: np.ndarray, banned: np.ndarray | None = None) -> torch.Tensor:
    """float32[B, 4, S, S] in [0, 1]: the nearest bank picture (uint8[K, S, S, 3]) for each of `lips`
    (box units), laid on them by `lips_onto` (edges repeated), and the window where its detail may
    go. Shifted only, as it was first, the nearest of 48 exemplars' edges missed the drawn ones
    wherever the mouth was wider or more open, and the refiner learnt to let less of it through:
    with the fit and 96 exemplars its held-out render sharpness rose from 0.81 to 0.87 (anchor) and
    0.68 to 0.84 (close-up)."""
    side = bank.shape[1]
    which = nearest(bank_lips, lips, banned)
    out = np.empty((len(which), side, side, 3), np.uint8)
    for row, entry in enumerate(which):
        matrix = lips_onto(np.asarray(bank_lips)[entry], np.asarray(lips)[row], side)
        out[row] = cv2.warpAffine(np.ascontiguousarray(bank[entry]), matrix, (side, side), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
    pictures = torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255.0
    return torch.cat([pictures, torch.from_numpy(window(lips, side))[:, None]], dim=1)


def lips_onto(source: np.ndarray, target: np.ndarray, side: int) -> np.ndarray:
    """float32[2, 3]: the affine map (pixels of a `side` square) that lays the `source` lips (box
    units) on the `target` ones, least squares over the 40 points: wider, narrower, more or less open,
    so that the exemplar's lip edges and teeth fall where the drawn ones are. Its stretch is bounded
    (STRETCH) so that a far-off shape is moved, not distorted."""
    src, dst = np.asarray(source, np.float64) * side, np.asarray(target, np.float64) * side
    centre_src, centre_dst = src[OUTER].mean(axis=0), dst[OUTER].mean(axis=0)
    linear, *_ = np.linalg.lstsq(src - centre_src, dst - centre_dst, rcond=None)
    u, s, vt = np.linalg.svd(linear.T)
    linear = u @ np.diag(np.clip(s, *STRETCH)) @ vt
    return np.hstack([linear, (centre_dst - linear @ centre_src)[:, None]]).astype(np.float32)


def too_close(frames: np.ndarray, bank_frames: np.ndarray, gap: int) -> np.ndarray:
    """bool[B, K]: bank entries within `gap` frames of each training frame, itself included."""
    return np.abs(np.asarray(frames)[:, None] - np.asarray(bank_frames)[None]) <= gap
