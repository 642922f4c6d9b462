"""What a person sees of a cut-out and what rendering takes from it: the frames as RGBA PNGs, and a
preview clip of the person on a checkerboard (transparency made visible) or on the chosen
background.

The PNGs carry straight (not premultiplied) alpha and the despilled colours, so a compositor puts
them on any background without a fringe of the recorded one.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from plugins.crop.frames import FrameCursor
from plugins.cutout.matting import despill

CHECKER = 16  # pixels per square of the preview's checkerboard
CHECKER_SHADES = (102, 153)
PREVIEW_CRF = "23"


def fit_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The image scaled to cover width x height and centred, cropped where the aspects differ."""
    scale = max(width / image.shape[1], height / image.shape[0])
    size = (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale)))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


def backdrop(background: np.ndarray | None, width: int, height: int) -> np.ndarray:
    """uint8[H, W, 3]: a checkerboard without a background, else its colour or its image."""
    if background is None:
        ys, xs = np.indices((height, width))
        shade = np.where((ys // CHECKER + xs // CHECKER) % 2 == 0, *CHECKER_SHADES).astype(np.uint8)
        return np.repeat(shade[..., None], 3, axis=2)
    if background.ndim == 1:
        return np.broadcast_to(background.astype(np.uint8), (height, width, 3)).copy()
    return fit_image(background, width, height)


def composite(colours: np.ndarray, alpha: np.ndarray, behind: np.ndarray) -> np.ndarray:
    weight = alpha.astype(np.float32)[..., None] / 255.0
    return np.rint(colours * weight + behind * (1.0 - weight)).astype(np.uint8)


def rgba_png(colours: np.ndarray, alpha: np.ndarray) -> bytes:
    bgra = np.dstack([colours[..., ::-1], alpha])
    ok, encoded = cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("a frame could not be encoded as PNG")
    return encoded.tobytes()


def render(
    video: Path, fps: float, start: int, alpha: np.ndarray, cover: int, cover_alpha: np.ndarray, strength: float,
    background: np.ndarray | None, frames_zip: Path, preview: Path, on_frame: Callable[[int], None],
) -> None:
    """Writes the RGBA PNGs of the clip's frames and the cover into `frames_zip`, and the clip over
    the backdrop into the H.264 `preview` (its size rounded down to even, as yuv420p needs)."""
    height, width = alpha.shape[1:]
    behind = backdrop(background, width, height)
    even = (width - width % 2, height - height % 2)
    with zipfile.ZipFile(frames_zip, "w", zipfile.ZIP_STORED) as archive, av.open(str(preview), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001), options={"preset": "veryfast", "crf": PREVIEW_CRF})
        stream.width, stream.height, stream.pix_fmt = even[0], even[1], "yuv420p"
        for row, picture in enumerate(FrameCursor(video).frames(start, start + len(alpha))):
            colours = despill(picture, alpha[row].astype(np.float32) / 255.0, strength)
            archive.writestr(f"frame_{start + row:06d}.png", rgba_png(colours, alpha[row]))
            shown = composite(colours, alpha[row], behind)[: even[1], : even[0]]
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(shown), format="rgb24")):
                out.mux(packet)
            on_frame(row)
        for packet in stream.encode():
            out.mux(packet)
        picture = next(FrameCursor(video).frames(cover, cover + 1))
        colours = despill(picture, cover_alpha.astype(np.float32) / 255.0, strength)
        archive.writestr(f"cover_{cover:06d}.png", rgba_png(colours, cover_alpha))
