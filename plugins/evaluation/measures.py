"""What can be proved about a talking-head video without a pretrained judge: how its lips move
(against the real video's, between frames and in silence) and how its mouth region looks.

Everything starts from the face mesh of every frame (plugins/face_track/mesh.py). Lip geometry is
taken relative to the lips' own centre and divided by the distance between the outer eye corners,
so that head size, distance and position do not count: a render plays the driving clip, whose
head is not where the real clip's head is, and only the mouth's shape should be compared. Distances
are reported in percent of that eye distance.

The mouth region is a square around the lips, one eye distance wide (room for the lips and the
chin's top), resized to 64 px for PSNR and SSIM, so that a 512 px video and a 256 px one compare
alike. Sharpness is measured on the box around the lips only, at the video's own resolution (at
most SHARP_SIDE px: beyond that, pixel noise rather than teeth and lip edges dominates the
Laplacian), because a mouth drawn at 64 px and scaled up to a 200 px mouth looks soft to a person
although its 64 px picture would measure as sharp as the real one's, and because the nose and
chin that a render keeps from the recording would lend a blurred mouth their sharpness.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from plugins.face_track.mesh import mesh_points, new_mesh
from plugins.lipsync.data import INNER_BOTTOM, INNER_TOP, LIPS
from plugins.lipsync.sync_measure import EYE_CORNERS

MOUTH_SIDE = 64  # pixels the mouth region is resized to
SHARP_SIDE = 128  # the most pixels across at which sharpness is measured; smaller mouths at their own size
MOUTH_WIDTH = 1.0  # of the eye distance: the side of the mouth square
LIPS_WIDTH, LIPS_HEIGHT = 0.9, 0.5  # of the eye distance: the box around the lips whose sharpness counts
PSNR_CAP = 100.0  # dB: what identical pictures score (a finite number, so that reports stay JSON)
MIN_SPEECH_FRAMES = 25  # a second of speech: fewer cannot say how far the mouth moves
SSIM_C1, SSIM_C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


@dataclass
class Track:
    """The face mesh's lips of every frame and the mouth regions cut around them."""

    lips: np.ndarray  # float32[N, 40, 2]: lip points minus their centre, over the eye distance (NaN: no face)
    mouths: np.ndarray  # uint8[N, MOUTH_SIDE, MOUTH_SIDE, 3] (zeros where no face was seen)
    sharp: np.ndarray  # float32[N]: the mouth's sharpness at the video's own resolution (NaN: no face)

    @property
    def found(self) -> np.ndarray:
        return np.isfinite(self.lips).all(axis=(1, 2))

    @property
    def opening(self) -> np.ndarray:
        """float32[N]: the inner-lip gap over the eye distance (the sync measure's mouth opening)."""
        return np.linalg.norm(self.lips[:, INNER_BOTTOM] - self.lips[:, INNER_TOP], axis=1)


def track(frames: Iterable[np.ndarray]) -> Track:
    """The lips and mouth regions of RGB frames, with one tracking face mesh over the whole video."""
    mesh = new_mesh()
    lips, mouths, sharp = [], [], []
    try:
        for rgb in frames:
            points = mesh_points(mesh, np.ascontiguousarray(rgb))
            if points is None:
                lips.append(np.full((len(LIPS), 2), np.nan, np.float32))
                mouths.append(np.zeros((MOUTH_SIDE, MOUTH_SIDE, 3), np.uint8))
                sharp.append(np.nan)
                continue
            eyes = float(np.linalg.norm(points[EYE_CORNERS[0], :2] - points[EYE_CORNERS[1], :2]))
            mouth = points[list(LIPS), :2]
            centre = mouth.mean(axis=0)
            side = MOUTH_WIDTH * eyes
            lips.append(((mouth - centre) / max(eyes, 1e-6)).astype(np.float32))
            mouths.append(mouth_region(rgb, centre, side, MOUTH_SIDE))
            sharp.append(lips_sharpness(rgb, centre, eyes))
    finally:
        mesh.close()
    if not lips:
        return Track(np.zeros((0, len(LIPS), 2), np.float32), np.zeros((0, MOUTH_SIDE, MOUTH_SIDE, 3), np.uint8), np.zeros(0, np.float32))
    return Track(np.stack(lips), np.stack(mouths), np.asarray(sharp, np.float32))


def mouth_region(rgb: np.ndarray, centre: np.ndarray, side: float, out: int) -> np.ndarray:
    """uint8[out, out, 3]: the square of `side` pixels around `centre` (edges repeated where it
    leaves the frame), resized to `out` (area-averaged when shrunk)."""
    half = side / 2
    scale = out / max(side, 1.0)
    matrix = np.array([[scale, 0, (half - centre[0]) * scale], [0, scale, (half - centre[1]) * scale]], np.float32)
    flags = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if scale < 1:  # warpAffine cannot area-average: cut at full size, then shrink
        full = int(np.ceil(side))
        matrix = np.array([[1, 0, full / 2 - centre[0]], [0, 1, full / 2 - centre[1]]], np.float32)
        square = cv2.warpAffine(np.ascontiguousarray(rgb), matrix, (full, full), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.resize(square, (out, out), interpolation=flags)
    return cv2.warpAffine(np.ascontiguousarray(rgb), matrix, (out, out), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def lips_sharpness(rgb: np.ndarray, centre: np.ndarray, eyes: float) -> float:
    """Sharpness of the box around the lips (LIPS_WIDTH by LIPS_HEIGHT eye distances) at the
    video's own resolution (at most SHARP_SIDE px across): the lips, the teeth between them and
    their edges, not the nose and chin around them, which a render keeps from the recording and
    which would lend a blurred mouth their sharpness."""
    side = LIPS_WIDTH * eyes
    square = mouth_region(rgb, centre, side, int(np.clip(round(side), 8, SHARP_SIDE)))
    keep = int(round(square.shape[0] * LIPS_HEIGHT / LIPS_WIDTH / 2))
    middle = square.shape[0] // 2
    return laplacian_variance(square[max(0, middle - keep) : middle + keep])


def laplacian_variance(picture: np.ndarray) -> float:
    """Variance of the Laplacian of the grey picture: high for crisp teeth and lip edges."""
    return float(cv2.Laplacian(_grey(picture), cv2.CV_64F).var())


def lmd(lips: np.ndarray, real: np.ndarray) -> float | None:
    """Mean distance between corresponding lip points of two videos, frame by frame, in percent
    of the eye distance (frames where either has no face are left out)."""
    count = min(len(lips), len(real))
    distance = np.linalg.norm(lips[:count] - real[:count], axis=2).mean(axis=1)
    distance = distance[np.isfinite(distance)]
    return float(distance.mean() * 100) if distance.size else None


def jitter(lips: np.ndarray) -> float | None:
    """Mean size of the lip points' frame-to-frame second difference, in percent of the eye
    distance: 0 for still or steadily moving lips, large for lips that tremble."""
    if len(lips) < 3:
        return None
    second = np.linalg.norm(lips[2:] - 2 * lips[1:-1] + lips[:-2], axis=2).mean(axis=1)
    second = second[np.isfinite(second)]
    return float(second.mean() * 100) if second.size else None


def lip_motion(opening: np.ndarray, speech: np.ndarray) -> float | None:
    """Spread (standard deviation) of the mouth opening over the frames in speech, in percent of
    the eye distance: how far the mouth opens and closes while it speaks. A frozen mouth or one
    average mouth has almost none; None with fewer than MIN_SPEECH_FRAMES speech frames."""
    count = min(len(opening), len(speech))
    values = np.asarray(opening[:count], np.float64)[np.asarray(speech[:count], bool)]
    values = values[np.isfinite(values)]
    return float(values.std() * 100) if values.size >= MIN_SPEECH_FRAMES else None


def stillness(opening: np.ndarray, speech: np.ndarray) -> float | None:
    """Mean frame-to-frame change of the mouth opening between two silent frames, in percent of
    the eye distance: how much the mouth chatters when nobody speaks. None without silence."""
    count = min(len(opening), len(speech))
    silent = ~np.asarray(speech[:count], bool)
    both = silent[1:] & silent[:-1]
    change = np.abs(np.diff(np.asarray(opening[:count], np.float64)))[both]
    change = change[np.isfinite(change)]
    return float(change.mean() * 100) if change.size else None


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 pictures in dB, PSNR_CAP when identical."""
    error = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if error == 0:
        return PSNR_CAP
    return float(min(PSNR_CAP, 10 * np.log10(255.0**2 / error)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two uint8 pictures (grey, Gaussian window of 11 px, sigma 1.5, as
    Wang et al. 2004): 1 when identical."""
    x = _grey(a)
    y = _grey(b)

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    index = ((2 * mx * my + SSIM_C1) * (2 * cov + SSIM_C2)) / ((mx * mx + my * my + SSIM_C1) * (vx + vy + SSIM_C2))
    return float(index.mean())


def _grey(picture: np.ndarray) -> np.ndarray:
    picture = np.asarray(picture)
    if picture.ndim == 3:
        picture = cv2.cvtColor(np.ascontiguousarray(picture), cv2.COLOR_RGB2GRAY)
    return picture.astype(np.float64)


def sharpness(values: np.ndarray) -> float | None:
    """Mean of the per-frame mouth sharpness over the frames that have one."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def mouth_similarity(mouths: np.ndarray, real: np.ndarray, found: np.ndarray) -> tuple[float | None, float | None]:
    """Mean PSNR and SSIM of the mouth regions against the real ones, over frames where both have a face."""
    count = min(len(mouths), len(real), len(found))
    rows = np.flatnonzero(found[:count])
    if rows.size == 0:
        return None, None
    return float(np.mean([psnr(mouths[i], real[i]) for i in rows])), float(np.mean([ssim(mouths[i], real[i]) for i in rows]))


def quality(video: Track, speech: np.ndarray, real: Track | None) -> dict[str, float | None]:
    """The measures of one video's lips and mouth; those against the real video only when it is given."""
    found = video.found
    result: dict[str, float | None] = {
        "face_share": float(found.mean()) if len(found) else 0.0,
        "lip_motion": lip_motion(video.opening, speech),
        "stillness_in_silence": stillness(video.opening, speech),
        "jitter": jitter(video.lips),
        "mouth_sharpness": sharpness(video.sharp),
    }
    if real is not None:
        count = min(len(found), len(real.lips))
        both = found[:count] & real.found[:count]
        own, theirs = sharpness(video.sharp[:count][both]), sharpness(real.sharp[:count][both])
        result["lmd"] = lmd(video.lips, real.lips)
        result["mouth_psnr"], result["mouth_ssim"] = mouth_similarity(video.mouths, real.mouths, both)
        result["sharpness_ratio"] = own / theirs if own is not None and theirs else None
    return result
