"""A generated face crop pasted back into the recorded frame, and the cut-out over a background.

Only the lower face changes (MODEL_NOTES.md, "Generate only what changes"): the paste is weighted
by a mask that is the hull of the face mesh's jaw line closed under the nose (the jaw pushed a
little down the face: an opening mouth drops the chin below the recorded one), whose weight rises
smoothly from nothing at the hull's edge to full a little inside it (a smoothstep of the distance
to the edge: a blurred edge that never reaches outside the hull). Pixels outside are copied from
the recorded frame untouched, so the eyes, the head and the background are exactly the
driving clip's. A generator's colours drift a little from the frame's (lighting, white balance,
its own bias); a seam shows where they differ at the mask's edge, so the generated pixels are
first given the frame's mean and spread per channel, measured on the skin around the mouth (the
mask without the lips, whose inside legitimately changes as the mouth opens).

Everything works on the hull's bounding rectangle only, with a distance transform rather than
morphology with large kernels: a frame of any size costs about the same.
"""

from __future__ import annotations

import cv2
import numpy as np

from plugins.media.squares import resample

# Face-mesh points (MediaPipe's 468-point topology) of the jaw line, from below the left ear round
# the chin to below the right one, and under the nose: their hull is the lower face.
JAW = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361)
UNDER_NOSE = (129, 98, 97, 2, 326, 327, 358)
LOWER_FACE = JAW + UNDER_NOSE
# The outer lip line: excluded from the colour statistics.
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)

NOSE_TIP, CHIN = 1, 152  # the face's downward axis
GROW = 0.3  # the jaw is pushed down by this share of its distance below the lips' centre
FEATHER = 0.14  # the weight's rise from the hull's edge to full, as a share of the hull's width
LIP_MARGIN = 1.5  # the lips' hull is grown by this factor around its centre before leaving the statistics
GAIN_LIMITS = (0.67, 1.5)  # a colour spread changed by more than this is a bad crop, not a colour cast
MIN_SKIN_PIXELS = 50
_SUBPIXEL = 4  # fractional bits of the polygon's corners


def paste(frame: np.ndarray, patch: np.ndarray, square: tuple[float, float, float], landmarks: np.ndarray, top: float = 0.0,
          feather: float = FEATHER) -> np.ndarray:
    """A new frame: `frame` (uint8[H, W, 3]) with the drawn part of `patch` (uint8[R, R, 3], the
    picture of the square `square` = x0, y0, side in frame pixels, fractional, possibly reaching
    past the frame's edges; drawn from `top`, a share of its side, down) blended in over the lower
    face; `landmarks` are float[468, 2] in frame pixels; `feather` is the width of the mask's soft
    edge as a share of the lower face's width. The patch is resampled once, straight into the
    frame's pixels, so a patch drawn at the person's own resolution keeps its detail. Without
    landmarks (no face in that frame) the frame is returned unchanged, as a copy."""
    out = frame.copy()
    points = np.asarray(landmarks, np.float64)
    if not np.isfinite(points[list(LOWER_FACE + LIPS)]).all():
        return out
    x0, y0, side = (float(v) for v in square)
    hull = lower_face_hull(points)
    ramp = max(1.0, feather * float(np.ptp(hull[:, 0])))
    height_px, width_px = frame.shape[:2]
    drawn_top = y0 + top * side
    # The rectangle to work on: the hull within the drawn part of the square, and a pixel of margin, within the frame.
    left = max(int(np.floor(max(hull[:, 0].min(), x0))) - 1, 0)
    upper = max(int(np.floor(max(hull[:, 1].min(), drawn_top))) - 1, 0)
    right = min(int(np.ceil(min(hull[:, 0].max(), x0 + side))) + 1, width_px)
    bottom = min(int(np.ceil(min(hull[:, 1].max(), y0 + side))) + 1, height_px)
    if right <= left or bottom <= upper:
        return out
    size = (right - left, bottom - upper)
    inside = polygon_mask(hull - (left, upper), size)
    # Beyond the drawn part of the square there is nothing drawn: the weight fades out at its edges too.
    centres_x, centres_y = np.arange(left, right) + 0.5, np.arange(upper, bottom) + 0.5
    inside &= ((centres_y >= drawn_top) & (centres_y < y0 + side))[:, None] & ((centres_x >= x0) & (centres_x < x0 + side))[None, :]
    alpha = feathered_mask(inside, ramp)
    generated = resample(patch, patch.shape[0] / side, x0 - left, y0 - upper, size)
    region = out[upper:bottom, left:right]
    lips = points[list(LIPS)] - (left, upper)
    lips = lips.mean(axis=0) + (lips - lips.mean(axis=0)) * LIP_MARGIN
    skin = (alpha > 0.05) & ~polygon_mask(cv2.convexHull(lips.astype(np.float32))[:, 0], size)
    generated = match_colour(generated, region.astype(np.float32), skin)
    a = alpha[..., None]
    blended = region.astype(np.float32) * (1.0 - a) + generated * a
    region[...] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


def lower_face_hull(landmarks: np.ndarray, grow: float = GROW) -> np.ndarray:
    """float32[K, 2]: the convex hull of the jaw line and the bottom of the nose (in the landmarks'
    pixels), the jaw below the lips pushed down the face by `grow` of its distance from the lips'
    centre, since an opening jaw drops below the recorded chin; sideways and upwards nothing grows,
    so the cheeks' outline and the nose stay the recorded ones. The only region a paste changes."""
    points = np.asarray(landmarks, np.float64)
    centre = points[list(LIPS)].mean(axis=0)
    down = points[CHIN] - points[NOSE_TIP]
    down /= max(float(np.hypot(*down)), 1e-6)
    offsets = points[list(JAW)] - centre
    along = offsets @ down
    jaw = points[list(JAW)] + np.outer(np.maximum(along, 0.0) * grow, down)
    return cv2.convexHull(np.concatenate([jaw, points[list(UNDER_NOSE)]]).astype(np.float32))[:, 0]


def polygon_mask(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool[h, w]: the convex polygon's pixels (centres inside)."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    # Pixel i covers [i, i + 1): its centre is at i + 0.5, so corners move by half a pixel.
    corners = np.round((polygon - 0.5) * (1 << _SUBPIXEL)).astype(np.int32)
    cv2.fillConvexPoly(mask, corners, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL)
    return mask.astype(bool)


def feathered_mask(inside: np.ndarray, ramp: float) -> np.ndarray:
    """float32[h, w] in [0, 1]: 0 outside the region, rising as a smoothstep of the distance to its
    edge over `ramp` pixels (no corner, no kink for the eye to catch), 1 beyond."""
    # OpenCV measures to the nearest zero pixel only, not to the rectangle's border: where the
    # frame's edge cuts the region, the weight stays full up to it (beyond it no seam can show).
    distance = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    t = np.clip(distance / ramp, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def match_colour(generated: np.ndarray, frame: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """The generated pixels given the frame's mean and standard deviation per channel over `skin`
    (the spread's change bounded by GAIN_LIMITS); unchanged where too little skin shows."""
    if int(skin.sum()) < MIN_SKIN_PIXELS:
        return generated
    mask = skin.astype(np.uint8)
    g_mean, g_std = (v[:, 0] for v in cv2.meanStdDev(generated, mask=mask))
    f_mean, f_std = (v[:, 0] for v in cv2.meanStdDev(frame, mask=mask))
    gain = np.clip(f_std / np.maximum(g_std, 1e-3), *GAIN_LIMITS)
    return generated * gain.astype(np.float32) + (f_mean - g_mean * gain).astype(np.float32)


def cut_out(picture: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The person (alpha uint8[h, w], 255 = person, resized to the picture if it differs) over
    `background`: an RGB colour (uint8[3]) or a picture of the frame's size (uint8[H, W, 3])."""
    height, width = picture.shape[:2]
    if alpha.shape != (height, width):
        alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    a = alpha.astype(np.float32)[..., None] / 255.0
    back = np.asarray(background, np.float32)
    blended = picture.astype(np.float32) * a + back * (1.0 - a)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def background_picture(background: object, width: int, height: int) -> np.ndarray:
    """A background for `cut_out`: an RGB triple stays a colour; a picture (uint8[h, w, 3]) is
    scaled to cover the frame and centred."""
    value = np.asarray(background)
    if value.shape == (3,):
        return value.astype(np.uint8)
    if value.ndim != 3 or value.shape[2] != 3:
        raise ValueError("a background is an RGB colour (3 values) or an RGB picture (h, w, 3)")
    scale = max(width / value.shape[1], height / value.shape[0])
    resized = cv2.resize(value.astype(np.uint8), (max(width, round(value.shape[1] * scale)), max(height, round(value.shape[0] * scale))), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    x, y = (resized.shape[1] - width) // 2, (resized.shape[0] - height) // 2
    return np.ascontiguousarray(resized[y : y + height, x : x + width])
