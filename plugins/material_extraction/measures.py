"""Per-frame measures of the face, from the training set alone, that the proposals are ranked on.

Every geometric measure is taken on the face mesh in full-frame pixels (the training set stores it
in crop pixels, each frame's crop box scaled differently), so that a head that keeps still in the
picture measures still even when the crop box drifts. Lengths are divided by a scale of the face
itself, never by pixels, so that the same motion or opening counts the same at any resolution and
any distance from the camera: head motion by the video's median face width (one number for the
whole video, so that a turned head does not look as if it moved), the mouth and the eyes by each
frame's distance between the outer eye corners (a wide mouth stays wide when the person leans back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from plugins.crop.geometry import sharpness
from plugins.sdk.training_set import QUALITY_FLAGS, TrainingSet

# Face mesh (mediapipe's 468 points) indices.
LIPS = (13, 14)  # the inner lips' middle points, upper and lower
RIGHT_EYE_LIDS = (159, 145)  # the person's right eye (left in the picture), upper and lower lid
LEFT_EYE_LIDS = (386, 374)
EYE_CORNERS = (33, 263)  # the outer corners of both eyes
NOSE_TIP = 1
# Points that move with the skull and not with the jaw, the lips or the brows: nose, eye corners,
# forehead, cheekbones. Their displacement is the head's motion, whatever the mouth does.
RIGID_POINTS = (1, 4, 6, 10, 33, 133, 168, 197, 234, 263, 362, 454)

EYES_OPEN_SHARE_OF_MEDIAN = 0.6  # eyes narrower than this share of the person's median are closing (a blink)
MOUTH_CLOSED_AT_MOST = 0.04  # of the eye-corner distance: lips this close are together (the mesh never reaches 0)
MOUTH_CLOSED_OVER_FLOOR = 1.5  # unless the person's own tightest mouth (5th percentile) is wider: then 1.5x that
SHARPNESS_CHUNK = 250  # faces per progress report while measuring sharpness


@dataclass(frozen=True)
class FrameMeasures:
    """What the proposals are chosen on, one row per video frame, and the video's own references."""

    fps: float
    width: int  # of the full frame, px
    height: int
    usable: np.ndarray  # bool[N]: a face, no quality flag (not blurred, not partly outside, no large motion)
    has_face: np.ndarray  # bool[N]: a face entirely in the frame (blur and motion allowed)
    points: np.ndarray  # float32[N, 468, 2]: the face mesh in frame px (NaN where no face)
    face_width: float  # px, the median over the video
    motion: np.ndarray  # float32[N]: head motion into each frame, share of the face width (NaN without a face)
    mouth: np.ndarray  # float32[N]: mouth opening, share of the eye-corner distance
    eyes: np.ndarray  # float32[N]: eye opening, same scale
    sharpness: np.ndarray  # float32[N]: variance of the Laplacian of the crop
    speech: np.ndarray  # bool[N]
    speech_probability: np.ndarray  # float32[N]
    eyes_median: float
    mouth_closed_below: float

    @property
    def frame_count(self) -> int:
        return len(self.usable)

    def eyes_open(self) -> np.ndarray:
        return self.eyes >= EYES_OPEN_SHARE_OF_MEDIAN * self.eyes_median

    def mouth_closed(self) -> np.ndarray:
        return self.mouth < self.mouth_closed_below


def measure(training_set: TrainingSet, progress: Callable[[float, str], None]) -> FrameMeasures:
    """Every measure of every frame; `progress(fraction, message)` while the crops are read."""
    manifest = training_set.manifest
    quality = np.asarray(training_set["quality"])
    points = frame_points(np.asarray(training_set["landmarks"]), np.asarray(training_set["boxes"]), int(manifest["crop_size"]))
    found = np.isfinite(points).all(axis=(1, 2))
    if not found.any():
        raise ValueError("the training set has no frame with a face")
    width = float(np.median(face_widths(points[found])))
    mouth = mouth_opening(points)
    eyes = eye_opening(points)
    return FrameMeasures(
        fps=float(manifest["fps"]),
        width=int(manifest["width"]),
        height=int(manifest["height"]),
        usable=found & (quality == 0),
        has_face=found & ((quality & (QUALITY_FLAGS["no_face"] | QUALITY_FLAGS["partly_outside"])) == 0),
        points=points,
        face_width=width,
        motion=head_motion(points, width),
        mouth=mouth,
        eyes=eyes,
        sharpness=sharpness_of(training_set["faces"], progress),
        speech=np.asarray(training_set["speech"]).astype(bool),
        speech_probability=np.asarray(training_set["speech_probability"], dtype=np.float32),
        eyes_median=float(np.median(eyes[found])),
        mouth_closed_below=mouth_closed_threshold(mouth[found]),
    )


def frame_points(landmarks: np.ndarray, boxes: np.ndarray, crop_size: int) -> np.ndarray:
    """float32[N, 468, 2]: the mesh back in full-frame pixels (the inverse of crop's landmarks_in_crop)."""
    scale = (boxes[:, 2] - boxes[:, 0]) / crop_size
    return (landmarks[..., :2] * scale[:, None, None] + boxes[:, None, :2]).astype(np.float32)


def face_widths(points: np.ndarray) -> np.ndarray:
    return points[..., 0].max(axis=-1) - points[..., 0].min(axis=-1)


def head_motion(points: np.ndarray, face_width: float) -> np.ndarray:
    """float32[N]: mean displacement of the rigid points from the frame before, as a share of the
    face width (0 for the first frame; NaN where this frame or the one before has no face)."""
    rigid = points[:, RIGID_POINTS]
    motion = np.zeros(len(points), dtype=np.float32)
    if len(points) > 1:
        motion[1:] = np.linalg.norm(np.diff(rigid, axis=0), axis=2).mean(axis=1) / face_width
    motion[~np.isfinite(points).all(axis=(1, 2))] = np.nan
    return motion


def _distance(points: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    return np.linalg.norm(points[..., pair[0], :] - points[..., pair[1], :], axis=-1)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Gap between the inner lips, as a share of the eye-corner distance."""
    return (_distance(points, LIPS) / _distance(points, EYE_CORNERS)).astype(np.float32)


def eye_opening(points: np.ndarray) -> np.ndarray:
    """Mean lid gap of both eyes, as a share of the eye-corner distance: a blink drops it to near 0."""
    lids = (_distance(points, RIGHT_EYE_LIDS) + _distance(points, LEFT_EYE_LIDS)) / 2
    return (lids / _distance(points, EYE_CORNERS)).astype(np.float32)


def mouth_closed_threshold(mouth: np.ndarray) -> float:
    """Below this opening the lips count as together: a fixed share, raised for a person whose
    mesh never closes that far (thick lips, a mesh that keeps a gap), judged on their tightest frames."""
    return max(MOUTH_CLOSED_AT_MOST, MOUTH_CLOSED_OVER_FLOOR * float(np.percentile(mouth, 5)))


def turn(points: np.ndarray) -> np.ndarray:
    """How far the head is turned sideways: the difference of the nose tip's distances to both
    outer eye corners, as a share of their sum (0 facing the camera, near 1 in profile)."""
    right = np.linalg.norm(points[..., NOSE_TIP, :] - points[..., EYE_CORNERS[0], :], axis=-1)
    left = np.linalg.norm(points[..., NOSE_TIP, :] - points[..., EYE_CORNERS[1], :], axis=-1)
    return (np.abs(right - left) / (right + left)).astype(np.float32)


def off_centre(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Distance of the face's centre (the middle of its mesh) from the frame's, as a share of half
    the frame's shorter side: 0 centred, 1 touching the edge."""
    centres = (points.min(axis=-2) + points.max(axis=-2)) / 2
    return (np.linalg.norm(centres - np.array([width / 2, height / 2]), axis=-1) / (min(width, height) / 2)).astype(np.float32)


def sharpness_of(faces: np.ndarray, progress: Callable[[float, str], None]) -> np.ndarray:
    values = np.empty(len(faces), dtype=np.float32)
    for first in range(0, len(faces), SHARPNESS_CHUNK):
        stop = min(first + SHARPNESS_CHUNK, len(faces))
        values[first:stop] = [sharpness(np.asarray(face)) for face in faces[first:stop]]
        progress(stop / len(faces), "measuring the sharpness of the faces")
    return values


def pose_gap(points: np.ndarray, first: int, last: int, face_width: float) -> float:
    """How far the head is between two frames: mean distance of the rigid points, share of the face width."""
    rigid = points[[first, last]][:, RIGID_POINTS]
    return float(np.linalg.norm(rigid[0] - rigid[1], axis=-1).mean() / face_width)


def picture_gap(faces: np.ndarray, first: int, last: int) -> float:
    """Mean absolute difference of two crops, as a share of the full range (0 identical, 1 opposite)."""
    return float(np.abs(np.asarray(faces[first], np.float32) - np.asarray(faces[last], np.float32)).mean() / 255)
