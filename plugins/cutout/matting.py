"""Alpha from a trimap with pymatting, carried to other frames and to full resolution by the
guided filter's local linear model, and the person's colours without the background's spill.

Closed-form matting (Levin et al.) costs 0.05-0.1 s a frame at 256 px on this machine and grows
with the pixel count, so it runs at the working size and only on keyframes. Around every pixel the
guided filter fits alpha ~ a . colour + b (He et al.); those coefficients, fitted once on the
keyframe's picture and its matted alpha, are what the other frames and the full resolution reuse:
a frame between two keyframes gets the coefficients blended by its distance to each, applied to its
own full-resolution colours (the fast guided filter's upsampling), and its own trimap's sure parts
then override them. Over small head motion the local colour model still holds, and where the
person moved far the frame's own trimap decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pymatting import estimate_alpha_cf

from plugins.cutout.trimap import SURE_BG, SURE_FG, UNKNOWN, working_size

GUIDE_RADIUS = 2  # working pixels: the window of the local linear model
GUIDE_EPS = 1e-4  # regularisation: small, so the model follows the matted edge closely
CLEAR = 0.02  # alpha at most this is background, where the background's colour is seen
BACKGROUND_REACH = (0.25, 0.04)  # Gaussian sigmas (of the longer side) the background is spread over
BACKGROUND_SUPPORT = 0.05  # least share of clear pixels an estimate needs
MIN_ALPHA = 0.1  # below this a pixel's own colour is too faint to recover; it is divided by this


@dataclass(frozen=True)
class Coefficients:
    a: np.ndarray  # float32[h, w, 3], averaged over the window
    b: np.ndarray  # float32[h, w]

    def blend(self, other: Coefficients, weight: float) -> Coefficients:
        """These coefficients moved `weight` (0..1) of the way to `other`'s."""
        return Coefficients(self.a + weight * (other.a - self.a), self.b + weight * (other.b - self.b))


def solve_alpha(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """float64[h, w]: closed-form matting of the uint8 picture within the trimap's unknown band."""
    if not (trimap == UNKNOWN).any():
        return trimap.copy()
    return estimate_alpha_cf(image.astype(np.float64) / 255.0, trimap)


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(values, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def fit(image: np.ndarray, alpha: np.ndarray, radius: int = GUIDE_RADIUS, eps: float = GUIDE_EPS) -> Coefficients:
    """The guided filter's coefficients of `alpha` with the colour picture as its guide."""
    guide = image.astype(np.float32) / 255.0
    target = alpha.astype(np.float32)
    mean_i = _box(guide, radius)
    mean_p = _box(target, radius)
    mean_ip = _box(guide * target[..., None], radius)
    cov_ip = mean_ip - mean_i * mean_p[..., None]
    outer = guide[..., :, None] * guide[..., None, :]
    var = _box(outer.reshape(*outer.shape[:2], 9), radius).reshape(outer.shape) - mean_i[..., :, None] * mean_i[..., None, :]
    var += eps * np.eye(3, dtype=np.float32)
    a = np.linalg.solve(var, cov_ip[..., None])[..., 0]
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_i)
    return Coefficients(_box(a, radius), _box(b, radius))


def apply(coefficients: Coefficients, picture: np.ndarray) -> np.ndarray:
    """float32[H, W] alpha of a full-resolution uint8 picture from working-size coefficients."""
    height, width = picture.shape[:2]
    a, b = coefficients.a, coefficients.b
    if a.shape[:2] != (height, width):
        a = cv2.resize(a, (width, height), interpolation=cv2.INTER_LINEAR)
        b = cv2.resize(b, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = np.einsum("hwc,hwc->hw", a, picture.astype(np.float32) / 255.0) + b
    return np.clip(alpha, 0.0, 1.0)


def enforce(alpha: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """The alpha with the trimap's sure parts imposed, the trimap scaled smoothly to the alpha's size
    so that its working-size pixels leave no steps on a larger frame."""
    height, width = alpha.shape
    fg = (trimap == SURE_FG).astype(np.float32)
    bg = (trimap == SURE_BG).astype(np.float32)
    if fg.shape != (height, width):
        fg = cv2.resize(fg, (width, height), interpolation=cv2.INTER_LINEAR)
        bg = cv2.resize(bg, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(alpha * (1.0 - fg - bg) + fg, 0.0, 1.0)


def _spread(values: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of `sigma` pixels, done on a picture shrunk until sigma is 3 pixels: a wide
    blur is smooth, so the shrinking loses nothing, and costs a small fraction of the full one."""
    height, width = values.shape[:2]
    scale = min(1.0, 3.0 / sigma)
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    blurred = cv2.GaussianBlur(cv2.resize(values, small, interpolation=cv2.INTER_AREA), (0, 0), sigma * scale)
    return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)


def background_colours(picture: np.ndarray, alpha: np.ndarray) -> np.ndarray | None:
    """float32[H, W, 3] in 0..1: the recorded background's colour behind every pixel, spread from
    the fully transparent pixels around it (a normalised Gaussian average at the working size,
    near where background is near, else far, else the mean of all background); None where no
    background is seen at all."""
    height, width = alpha.shape
    size = working_size(width, height)
    small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    seen = (cv2.resize(alpha, size, interpolation=cv2.INTER_AREA) <= CLEAR).astype(np.float32)
    if seen.sum() == 0:
        return None
    estimate = np.broadcast_to((small * seen[..., None]).sum(axis=(0, 1)) / seen.sum(), small.shape)
    for reach in BACKGROUND_REACH:  # far first, so that the near estimate overrides it where it exists
        weight = _spread(seen, reach * max(size))
        colours = _spread(small * seen[..., None], reach * max(size))
        known = (weight > BACKGROUND_SUPPORT)[..., None]
        estimate = np.where(known, colours / np.maximum(weight, BACKGROUND_SUPPORT)[..., None], estimate)
    return cv2.resize(estimate, (width, height), interpolation=cv2.INTER_LINEAR)


def despill(picture: np.ndarray, alpha: np.ndarray, strength: float) -> np.ndarray:
    """uint8 RGB: the picture with the background's colour taken out of its partly transparent
    pixels, `strength` 0 (as recorded) to 1 (all of it). A mixed pixel is alpha * person +
    (1 - alpha) * background, so with the background's colour estimated from the clear pixels
    around it, the person's own colour is (pixel - (1 - alpha) * background) / alpha. Opaque pixels
    keep their colours: only the mixed edge carries spill. (pymatting's multi-level foreground
    estimate does the same job 20-50x slower, 0.13 s a 256 px frame here.)"""
    behind = background_colours(picture, alpha) if strength > 0.0 else None
    if behind is None:
        return picture
    mixed = (alpha > 0.0) & (alpha < 1.0)
    image = picture.astype(np.float32) / 255.0
    weight = np.maximum(alpha[mixed], MIN_ALPHA)[:, None]
    person = np.clip((image[mixed] - (1.0 - alpha[mixed])[:, None] * behind[mixed]) / weight, 0.0, 1.0)
    out = image.copy()
    out[mixed] += strength * (person - image[mixed])
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
