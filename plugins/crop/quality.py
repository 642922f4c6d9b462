"""The quality flags of each frame of the training set, so that training can skip or down-weight
frames instead of learning from them blindly.

Blur is judged against the video's own median sharpness, not an absolute number: sharpness depends
on the camera, the light and the crop size, and what matters is a frame much softer than the rest
(motion blur, a focus hunt). Motion is the crop centre's speed in crop sides per second, so the same
head movement counts the same at any resolution.
"""

from __future__ import annotations

import numpy as np

from plugins.crop.geometry import outside
from plugins.sdk.training_set import QUALITY_FLAGS

BLURRED_BELOW_MEDIAN = 0.4  # a face this much less sharp than the video's median face is blurred
LARGE_MOTION_SIDES_PER_S = 1.0  # the crop centre moving a whole crop side in a second


def quality_flags(
    found: np.ndarray, landmarks: np.ndarray, centres_from: np.ndarray, sharpness: np.ndarray, width: int, height: int, fps: float
) -> np.ndarray:
    """uint8 bit flags per frame (docs/preprocessing.md): `landmarks` is the face mesh in frame
    pixels, and `centres_from` the face track's smoothed crop boxes the motion is measured on.
    "Partly outside" is about the face itself, not the crop's margin: a face that fills a small
    frame has a crop box reaching past the edges in every frame, and its crops are still good."""
    flags = np.zeros(len(found), dtype=np.uint8)
    flags[~found] |= QUALITY_FLAGS["no_face"]
    if found.any():
        median = float(np.median(sharpness[found]))
        flags[found & (sharpness < BLURRED_BELOW_MEDIAN * median)] |= QUALITY_FLAGS["blurred"]
        cut_off = [index for index in np.flatnonzero(found) if outside(face_box(landmarks[index]), width, height)]
        flags[cut_off] |= QUALITY_FLAGS["partly_outside"]
    flags[motion(centres_from, fps) > LARGE_MOTION_SIDES_PER_S] |= QUALITY_FLAGS["large_motion"]
    return flags


def face_box(mesh: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) around a face mesh's points."""
    points = mesh[:, :2]
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def motion(boxes: np.ndarray, fps: float) -> np.ndarray:
    """The box centre's speed into each frame from the one before, in box sides per second."""
    speed = np.zeros(len(boxes), dtype=np.float32)
    if len(boxes) > 1:
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        sides = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
        speed[1:] = np.linalg.norm(np.diff(centres, axis=0), axis=1) * fps / sides[1:]
    return speed


def flag_counts(flags: np.ndarray) -> dict[str, int]:
    counts = {name: int(np.count_nonzero(flags & bit)) for name, bit in QUALITY_FLAGS.items()}
    counts["clean"] = int(np.count_nonzero(flags == 0))
    return counts
