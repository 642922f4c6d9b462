"""The training set as the sub-models read it: the person's lower face cut from every crop, the
lips of the face mesh relative to the nose, Whisper features around every frame, and which frames
train and which are held out.

The lower face is a fixed square of the crop (the crop box is already smoothed over time by the
face track), placed from the person's mean landmarks: cutting per frame from the landmarks would
follow the landmark noise and make the mouth jitter. Lips are stored relative to an anchor on the
nose, which the jaw does not move, so that audio2lip learns articulation and not head motion; at
inference the predicted lips are placed at the driving frame's own anchor.

Recordings are often a few frames off between sound and picture (a camera's sound path has its own
delay; a voice recorded apart can be any amount off). A model trained on them learns the offset and renders it. So the
offset is measured on the training frames (mouth opening against the speech band's rise, as the sync
measure does) and every audio window is taken that much later or earlier: the sub-models learn
sound and mouth aligned, and the graph renders them aligned.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from plugins.lipsync import features
from plugins.lipsync.sync_measure import EYE_CORNERS, articulation, correlate
from plugins.media.squares import cut_square
from plugins.lipsync.sync_measure import INNER_BOTTOM as MESH_INNER_BOTTOM
from plugins.lipsync.sync_measure import INNER_TOP as MESH_INNER_TOP
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import QUALITY_FLAGS, TrainingSetError, open_training_set

# The 40 lip points of the face mesh: the outer contour, then the inner one, each as a closed
# polygon (left corner, along the lower lip, right corner, back along the upper lip).
OUTER_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
INNER_LIPS = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
LIPS = OUTER_LIPS + INNER_LIPS
INNER_TOP, INNER_BOTTOM = LIPS.index(13), LIPS.index(14)
NOSE = (1, 4, 5, 195, 197)  # the anchor: points the jaw does not move
EYES = EYE_CORNERS  # the face's scale
NOSE_TIP, CHIN = 1, 152
HELD_OUT_SHARE = 0.15
MAX_OFFSET = 5  # frames
MIN_OFFSET_R = 0.1  # below this correlation the offset is not trusted, and taken as 0
MIN_FRAMES = 50


@dataclass(frozen=True)
class Geometry:
    """The person's lower-face square in the crop and their mean lip shape, in the crop's size
    units (fractions), so that it applies to crops of any size."""

    box: np.ndarray  # float32[4]: x0, y0, x1, y1 as fractions of the crop side
    mean_shape: np.ndarray  # float32[40, 2]: mean lips minus anchor, in box units
    delta_scale: float  # std of the lips around the mean shape, in box units

    def square(self, size: float) -> tuple[float, float, float]:
        """(x0, y0, side) of the box in pixels of a crop of `size`, fractional: the lower face is cut,
        and pasted back, exactly where it is, never rounded to a whole pixel of a small crop."""
        return float(self.box[0] * size), float(self.box[1] * size), float((self.box[2] - self.box[0]) * size)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "box": torch.from_numpy(self.box.astype(np.float32)),
            "mean_shape": torch.from_numpy(self.mean_shape.astype(np.float32)),
            "delta_scale": torch.tensor(float(self.delta_scale)),
        }

    @staticmethod
    def from_tensors(saved: dict) -> Geometry:
        return Geometry(saved["box"].numpy(), saved["mean_shape"].numpy(), float(saved["delta_scale"]))


def lower_face_box(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The square from just above the nose tip to below the chin, 1.5 eye distances wide, centred
    on the mouth: room for the jaw to drop and the lips to widen, little of the cheeks."""
    mean = np.nanmean(landmarks, axis=0)
    eyes = float(np.linalg.norm(mean[EYES[0]] - mean[EYES[1]]))
    side = 1.5 * eyes
    centre_x = float(mean[list(LIPS), 0].mean())
    centre_y = (mean[NOSE_TIP, 1] + mean[CHIN, 1]) / 2 + 0.1 * eyes
    box = np.array([centre_x - side / 2, centre_y - side / 2, centre_x + side / 2, centre_y + side / 2]) / size
    shift = np.clip(box[:2], None, 0) * -1 + np.clip(box[2:] - 1, 0, None) * -1
    return (box + np.concatenate([shift, shift])).astype(np.float32)


def cut_lower(faces: np.ndarray, geometry: Geometry, out: int) -> np.ndarray:
    """uint8[N, out, out, 3]: the lower-face square of each crop, resized."""
    square = geometry.square(faces.shape[1])
    result = np.empty((len(faces), out, out, 3), dtype=np.uint8)
    for row, face in enumerate(faces):
        result[row] = cut_square(np.asarray(face), *square, out)
    return result


def lips_in_box(landmarks: np.ndarray, geometry: Geometry, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(lips float32[N, 40, 2], anchor float32[N, 2]) in box units, from mesh points in crop pixels."""
    x0, y0, side = geometry.square(size)
    points = (np.asarray(landmarks, dtype=np.float32) - np.array([x0, y0], np.float32)) / side
    return points[:, list(LIPS)], points[:, list(NOSE)].mean(axis=1)


def lip_maps(lips: np.ndarray, size: int) -> np.ndarray:
    """float32[N, 2, size, size]: the outer lip contour drawn as a line, and the mouth opening
    filled: a picture of the target mouth that a convolutional generator can follow pixel by pixel."""
    shift = 2
    scale = size * (1 << shift)
    maps = np.zeros((len(lips), 2, size, size), dtype=np.uint8)
    for row, points in enumerate(np.asarray(lips)):
        if not np.isfinite(points).all():
            continue
        fixed = np.round(points * scale).astype(np.int32)
        cv2.polylines(maps[row, 0], [fixed[:20]], True, 255, 1, cv2.LINE_AA, shift)
        cv2.fillPoly(maps[row, 1], [fixed[20:]], 255, cv2.LINE_AA, shift)
    return maps.astype(np.float32) / 255.0


def opening(lips: np.ndarray) -> np.ndarray:
    """Inner-lip gap per frame, in the lips' units."""
    return lips[..., INNER_BOTTOM, 1] - lips[..., INNER_TOP, 1]


def eye_shapes(landmarks: np.ndarray) -> np.ndarray:
    """float32[N, 40, 2]: the lips around their centre, in eye distances, from face-mesh points
    (any pixels): the evaluation's own view of a mouth (plugins/evaluation/measures.py), NaN
    where no face was seen."""
    points = np.asarray(landmarks, np.float32)
    lips = points[:, list(LIPS)]
    eyes = np.linalg.norm(points[:, EYES[0]] - points[:, EYES[1]], axis=1)
    return ((lips - lips.mean(axis=1, keepdims=True)) / np.maximum(eyes, 1e-6)[:, None, None]).astype(np.float32)


def eye_opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap over the eye distance per frame, from face-mesh points (any pixels): the
    evaluation's own unit of mouth motion (plugins/evaluation/measures.py)."""
    points = np.asarray(landmarks, np.float32)
    gap = np.linalg.norm(points[:, MESH_INNER_BOTTOM] - points[:, MESH_INNER_TOP], axis=1)
    return gap / np.maximum(np.linalg.norm(points[:, EYES[0]] - points[:, EYES[1]], axis=1), 1e-6)


@lru_cache(maxsize=2)
def _audio_features(path: str, mtime: float) -> np.ndarray:
    samples, rate = open_training_set(Path(path)).audio()
    if rate != features.SAMPLE_RATE:
        raise StageFailed("bad_training_set", f"the training set's sound is at {rate} Hz, not 16 kHz", "run the crop stage again")
    return features.encode(samples)


def audio_features(path: Path) -> np.ndarray:
    """Whisper features of the training set's sound, computed once per process and file."""
    return _audio_features(str(path), Path(path).stat().st_mtime)


def envelopes(path: Path) -> np.ndarray:
    """The band envelopes of the training set's sound (features.envelope)."""
    samples, _ = open_training_set(Path(path)).audio()
    return features.envelope(samples)


@dataclass
class Dataset:
    fps: float
    crop_size: int
    geometry: Geometry
    faces: np.ndarray  # uint8[N, S, S, 3] memory-mapped crops
    landmarks: np.ndarray  # float32[N, 468, 2] crop pixels
    lower: torch.Tensor  # uint8[N, G, G, 3] lower faces at the sub-model's size
    lips: np.ndarray  # float32[N, 40, 2] box units
    anchor: np.ndarray  # float32[N, 2]
    deltas: np.ndarray  # float32[N, 80]: lips minus anchor minus mean shape, over delta_scale
    features: torch.Tensor  # float32[R, 512] Whisper rows at 50 Hz
    envelopes: torch.Tensor  # float32[R, 28] band envelopes at 50 Hz, row for row with `features`
    native: np.ndarray | None  # uint8[N, L, L, 3] memory-mapped lower faces at the person's own resolution (None: an older training set)
    offset: int  # frames the mouth lags its sound in the recording (negative: it leads)
    train: np.ndarray  # usable training frames
    held_out: np.ndarray  # usable held-out frames

    def audio(self, frames: np.ndarray) -> torch.Tensor:
        """float32[len(frames), 20, 512]: the audio window that goes with each frame's mouth (around
        the frame's time, corrected by the recording's offset)."""
        return self.features[torch.from_numpy(self._window(frames))]

    def envelope(self, frames: np.ndarray, context: int = features.CONTEXT_ROWS) -> torch.Tensor:
        """float32[len(frames), 2 * context, 28]: the band envelopes of the same windows, or of
        `context` rows on each side."""
        return self.envelopes[torch.from_numpy(self._window(frames, context))]

    def _window(self, frames: np.ndarray, context: int = features.CONTEXT_ROWS) -> np.ndarray:
        return features.window_index(np.asarray(frames) - self.offset, self.fps, len(self.features), context)

    def lower_float(self, frames: np.ndarray) -> torch.Tensor:
        """float32[B, 3, G, G] in [0, 1]."""
        return self.lower[torch.from_numpy(np.asarray(frames))].permute(0, 3, 1, 2).float() / 255.0

    @property
    def native_size(self) -> int | None:
        """The side of the own-resolution lower faces, None without them."""
        return None if self.native is None else int(self.native.shape[1])


def av_offset(landmarks: np.ndarray, samples: np.ndarray, fps: float, frames: np.ndarray) -> int:
    """Frames the mouth lags the sound over `frames` (the best lag of the sync measure), or 0
    when the correlation is too weak to say."""
    opening = np.full(len(landmarks), np.nan, dtype=np.float32)
    opening[frames] = eye_opening(landmarks[frames])
    found = correlate(opening, articulation(samples, fps, len(landmarks)), MAX_OFFSET)
    return int(found.lag) if found.best >= MIN_OFFSET_R else 0


def excluded_mask(materials: dict, count: int) -> np.ndarray:
    mask = np.zeros(count, dtype=bool)
    for start, stop in materials.get("exclude_from_training", []):
        mask[max(0, int(start)) : max(0, min(count, int(stop)))] = True
    return mask


def load(training_set: Path, materials: dict, size: int, held_out_share: float = HELD_OUT_SHARE) -> Dataset:
    """Reads the training set; `size` is the side of the lower-face pictures the sub-model uses.
    Frames in `exclude_from_training` and frames without a face are never used; the last
    `held_out_share` of the usable frames (one stretch, so that no held-out window overlaps a
    training one) are held out for evaluation."""
    try:
        ts = open_training_set(Path(training_set))
    except (TrainingSetError, zipfile.BadZipFile, OSError) as exc:
        raise StageFailed("bad_training_set", f"the training set cannot be read: {exc}", "run the crop stage again") from exc
    count, crop_size = ts.frame_count, int(ts.manifest["crop_size"])
    landmarks = np.asarray(ts["landmarks"], dtype=np.float32)
    quality = np.asarray(ts["quality"])
    usable = ~excluded_mask(materials, count) & (quality & QUALITY_FLAGS["no_face"] == 0)
    usable &= np.isfinite(landmarks[:, list(LIPS) + list(NOSE) + list(EYES)]).all(axis=(1, 2))
    frames = np.flatnonzero(usable)
    if len(frames) < MIN_FRAMES:
        raise StageFailed(
            "too_few_frames",
            f"only {len(frames)} frames show a face and may be trained on; at least {MIN_FRAMES} are needed",
            "record a longer video with your face in the picture, or exclude fewer frames",
        )
    split = frames[int(len(frames) * (1 - held_out_share))]
    train, held_out = frames[frames < split], frames[frames >= split]
    # The crop stage's lower-face square, where it cut the person's own-resolution lower faces
    # (`lower`); an older training set has none, and the square is placed from the training frames.
    stored = ts.manifest.get("lower_box")
    box = np.asarray(stored, np.float32) if stored is not None else lower_face_box(landmarks[train], crop_size)
    provisional = Geometry(box, np.zeros((len(LIPS), 2), np.float32), 1.0)
    lips, anchor = lips_in_box(landmarks, provisional, crop_size)
    relative = lips - anchor[:, None]
    mean_shape = np.nanmean(relative[train], axis=0).astype(np.float32)
    delta_scale = float(np.nanstd(relative[train] - mean_shape))
    geometry = Geometry(box, mean_shape, delta_scale)
    deltas = ((relative - mean_shape) / delta_scale).reshape(count, -1)
    faces = ts["faces"]
    fps = float(ts.manifest["fps"])
    samples, _ = ts.audio()
    return Dataset(
        fps=fps,
        crop_size=crop_size,
        geometry=geometry,
        faces=faces,
        landmarks=landmarks,
        lower=torch.from_numpy(cut_lower(faces, geometry, size)),
        lips=lips,
        anchor=anchor,
        deltas=np.nan_to_num(deltas).astype(np.float32),
        features=torch.from_numpy(audio_features(Path(training_set))),
        envelopes=torch.from_numpy(envelopes(Path(training_set))),
        native=ts.arrays.get("lower"),
        offset=av_offset(landmarks, samples, fps, train),
        train=train,
        held_out=held_out,
    )
