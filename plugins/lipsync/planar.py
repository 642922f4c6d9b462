"""The answer's frames as the H.264 encoder takes them (I420: full-size luma, quarter-size chroma),
made by touching only the mouth.

At 1080x1920 the work that does not depend on the model was most of a render's time (the floor ran
at 33 frames a second): the recorded picture decoded again for each output frame of a long clip,
copied whole for each paste, and converted from RGB to the encoder's YUV by libswscale (36 ms a
frame on 2 cores under load, measured here). Here the driving clip is decoded and converted once
(with OpenCV's BT.601 video-range conversion, libswscale's own default: luma within one level),
held as I420 (half the bytes of RGB, so twice as long a clip fits the memory budget), and each
output frame is a copy of its held picture in which only the mouth's rectangle is converted to RGB,
pasted (plugins/lipsync/composite.py, the same paste on that rectangle alone) and converted back.
Only the pixels the paste changed are written back (and the chroma of the 2x2 blocks holding them):
every other pixel is the held picture's, exactly, not a colour round trip of it.

With a cut-out the held picture shown is the recording over its background, converted once too;
the mouth's pixels are pasted into the recording and then cut out over the same background, as
compose does with the whole frame.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from plugins.lipsync.composite import LIPS, LOWER_FACE, cut_out, lower_face_hull, paste
from plugins.lipsync.driving import DrivingClip, driving_pictures, exact_frames
from plugins.media.frames import VideoInfo


def i420(picture: np.ndarray) -> np.ndarray:
    """uint8[h * 3 / 2, w]: an RGB picture of even sides as the encoder's I420."""
    return cv2.cvtColor(np.ascontiguousarray(picture), cv2.COLOR_RGB2YUV_I420)


def planes(frame: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of an I420 frame's Y (height x width), U and V (half each way) planes: writing to them
    writes the frame."""
    flat = frame.reshape(-1)
    luma, chroma = width * height, (width // 2) * (height // 2)
    return (flat[:luma].reshape(height, width), flat[luma : luma + chroma].reshape(height // 2, width // 2),
            flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2))


def held_bytes(info: VideoInfo, cutout: bool) -> int:
    """Bytes one held frame takes: I420 of the even-sided frame, twice with a cut-out (the recording
    and the picture shown)."""
    return (info.width // 2) * (info.height // 2) * 6 * (2 if cutout else 1)


def planar_pictures(
    video, info: VideoInfo, clip: DrivingClip, order: np.ndarray, alpha: np.ndarray | None, behind: np.ndarray | None, memory_bytes: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(the recording, the picture shown) of each output frame as I420, the same array twice without a
    cut-out; shared between output frames, never written to. A clip that fits `memory_bytes` is
    decoded and converted once; a longer one is streamed (plugins/lipsync/driving.py) and converted
    frame by frame."""
    width, height = info.width - info.width % 2, info.height - info.height % 2

    def converted(picture: np.ndarray, number: int) -> tuple[np.ndarray, np.ndarray]:
        raw = i420(picture[:height, :width])
        if alpha is None:
            return raw, raw
        return raw, i420(cut_out(picture, alpha[number - clip.start], behind)[:height, :width])

    if clip.length * held_bytes(info, alpha is not None) <= memory_bytes:
        held = [converted(picture, clip.start + k) for k, picture in enumerate(exact_frames(video, clip.start, clip.stop))]
        for number in order:
            yield held[int(number) - clip.start]
        return
    for number, picture in zip(order, driving_pictures(video, info, clip, order, memory_bytes)):
        yield converted(picture, int(number))


def paste_planar(
    raw: np.ndarray, shown: np.ndarray, patch: np.ndarray, square: tuple[float, float, float], landmarks: np.ndarray, top: float,
    width: int, height: int, alpha: np.ndarray | None = None, behind: np.ndarray | None = None,
) -> np.ndarray:
    """A new I420 frame: `shown` with `patch` pasted as composite.paste pastes it into the recording
    `raw` (arguments as paste's, in frame pixels), cut out over `behind` by `alpha` (the frame's
    cut-out, frame-sized) when given. Only the rectangle around the lower face is converted, and only
    the pixels the paste changed are written."""
    out = shown.copy()
    points = np.asarray(landmarks, np.float64)
    if not np.isfinite(points[list(LOWER_FACE + LIPS)]).all():
        return out  # paste leaves such a frame as recorded
    x0, y0, side = (float(v) for v in square)
    hull = lower_face_hull(points)
    # paste's own rectangle (the hull within the drawn part of the square, a pixel of margin),
    # widened to even pixels so that whole chroma blocks are converted
    left = max(int(np.floor(max(hull[:, 0].min(), x0))) - 1, 0) & ~1
    upper = max(int(np.floor(max(hull[:, 1].min(), y0 + top * side))) - 1, 0) & ~1
    right = min(int(np.ceil(min(hull[:, 0].max(), x0 + side))) + 1, width)
    bottom = min(int(np.ceil(min(hull[:, 1].max(), y0 + side))) + 1, height)
    right, bottom = right + right % 2, bottom + bottom % 2
    if right - left < 2 or bottom - upper < 2:
        return out
    h, w = bottom - upper, right - left
    y, u, v = planes(raw, width, height)
    block = (slice(upper // 2, bottom // 2), slice(left // 2, right // 2))
    region = cv2.cvtColor(np.concatenate([y[upper:bottom, left:right].reshape(-1), u[block].reshape(-1), v[block].reshape(-1)]).reshape(h * 3 // 2, w),
                          cv2.COLOR_YUV2RGB_I420)
    pasted = paste(region, patch, (x0 - left, y0 - upper, side), points - (left, upper), top)
    changed = (pasted != region).any(axis=2)
    if not changed.any():
        return out
    if alpha is not None:
        back = behind if behind.ndim == 1 else behind[upper:bottom, left:right]
        pasted = cut_out(pasted, alpha[upper:bottom, left:right], back)
    new_y, new_u, new_v = planes(i420(pasted), w, h)
    out_y, out_u, out_v = planes(out, width, height)
    out_y[upper:bottom, left:right][changed] = new_y[changed]
    blocks = changed.reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))
    out_u[block][blocks] = new_u[blocks]
    out_v[block][blocks] = new_v[blocks]
    return out
