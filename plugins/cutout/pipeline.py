"""The alpha of the driving clip's frames and of the cover, chunk by chunk.

In each chunk every KEYFRAME_EVERY-th frame and the chunk's last are matted with pymatting at the
working size; every frame then takes the guided-filter coefficients of the keyframes around it,
applied to its own full-resolution colours, with its own trimap's sure parts imposed
(plugins/cutout/matting.py). A chunk's keyframes lie inside it, so its rows depend on its frames
only, and a resumed run gives the rows of an uninterrupted one. Frames of an earlier version made
with the same matting recipe are taken as they were instead of matted again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
import cv2
import numpy as np

from plugins.crop.frames import FrameCursor
from plugins.cutout import matting
from plugins.cutout.inputs import Clip, Sources
from plugins.cutout.recipe import matting_part
from plugins.cutout.trimap import build_trimap, hull_mask, key_keep, working_size
from plugins.media.frames import VideoUnreadable
from plugins.sdk import chunks
from plugins.sdk.context import RunContext
from plugins.sdk.video import unreadable

KEYFRAME_EVERY = 4  # frames between matted keyframes; the others reuse the keyframes' colour model
CHUNK_FRAMES = 25  # about a second of video and a few seconds of work
CHECKPOINT_EVERY_S = chunks.CHECKPOINT_EVERY_S
MATTING = "cf, guided-filter propagation"  # part of the checkpoint's fingerprint
MATTING_VERSION = "1"


@dataclass
class Frame:
    picture: np.ndarray  # uint8[H, W, 3], full resolution
    work: np.ndarray  # uint8[h, w, 3], the working size
    trimap: np.ndarray  # float64[h, w]


@dataclass
class Cutter:
    """`process(first, stop)` over absolute frame numbers: rows `alpha` uint8[n, H, W]."""

    sources: Sources
    recipe: dict[str, Any]
    on_frame: Callable[[int], None]
    reuse: dict[int, np.ndarray] = field(default_factory=dict)
    matted: int = 0  # frames matted (not reused), for the seconds-per-frame figure
    _cursor: FrameCursor | None = None

    def __post_init__(self) -> None:
        info = self.sources.info
        self.size = working_size(info.width, info.height)
        self.scale = self.size[0] / info.width
        self._cursor = FrameCursor(self.sources.video)

    def __call__(self, first: int, stop: int) -> dict[str, np.ndarray]:
        if all(number in self.reuse for number in range(first, stop)):
            for number in range(first, stop):
                self.on_frame(number)
            return {"alpha": np.stack([self.reuse[n] for n in range(first, stop)])}
        mattes = self.sources.matte_rows(first, stop)
        frames = []
        for offset, picture in enumerate(self._cursor.frames(first, stop)):
            frames.append(self._frame(first + offset, picture, mattes[offset]))
            self.on_frame(first + offset)
        count = len(frames)
        keys = sorted(set(range(0, count, KEYFRAME_EVERY)) | {count - 1})
        fitted = {k: matting.fit(frames[k].work, matting.solve_alpha(frames[k].work, frames[k].trimap)) for k in keys}
        alpha = np.empty((count, *frames[0].picture.shape[:2]), np.uint8)
        for index, frame in enumerate(frames):
            before = max(k for k in keys if k <= index)
            after = min(k for k in keys if k >= index)
            model = fitted[before] if after == before else fitted[before].blend(fitted[after], (index - before) / (after - before))
            alpha[index] = self._finish(frame, model)
        self.matted += count
        return {"alpha": alpha}

    def _frame(self, number: int, picture: np.ndarray, matte: np.ndarray) -> Frame:
        work = cv2.resize(picture, self.size, interpolation=cv2.INTER_AREA) if picture.shape[1] != self.size[0] else picture
        coarse = cv2.resize(matte, self.size, interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        hull = hull_mask(self.sources.face_points(number) * self.scale, self.size)
        return Frame(picture, work, build_trimap(work, coarse, hull, self.recipe, self.scale))

    def _finish(self, frame: Frame, model: matting.Coefficients) -> np.ndarray:
        alpha = matting.enforce(matting.apply(model, frame.picture), frame.trimap)
        keys = self.recipe.get("key_colours", [])
        if keys:
            alpha *= key_keep(frame.picture, keys)
        return np.rint(alpha * 255.0).astype(np.uint8)

    def single(self, number: int) -> np.ndarray:
        """The alpha of one frame out of the clip's order (the cover), read with its own cursor."""
        if number in self.reuse:
            return self.reuse[number]
        cursor, on_frame = self._cursor, self.on_frame
        self._cursor, self.on_frame = FrameCursor(self.sources.video), lambda n: None
        try:
            return self(number, number + 1)["alpha"][0]
        finally:
            self._cursor, self.on_frame = cursor, on_frame


@dataclass(frozen=True)
class Cut:
    alpha: np.ndarray  # uint8[F, H, W]
    cover_alpha: np.ndarray  # uint8[H, W]
    resumed_at: int
    matted: int
    seconds: float


def cut_out(
    ctx: RunContext, sources: Sources, recipe: dict[str, Any], clip: Clip, cover: int,
    reuse: dict[int, np.ndarray], start_fraction: float, end_fraction: float,
) -> Cut:
    """The alpha of every frame of the clip and of the cover, resumable by chunks."""
    total = clip.stop - clip.start
    span = end_fraction - start_fraction
    cutter = Cutter(
        sources, recipe, lambda n: ctx.progress(start_fraction + span * (n - clip.start) / (total + 1), f"cutting out frame {n - clip.start + 1} of {total}"),
        reuse,
    )
    mark = chunks.fingerprint(ctx, MATTING_VERSION, matting=MATTING, recipe=matting_part(recipe), clip=[clip.start, clip.stop], cover=cover)
    started = time.monotonic()
    try:
        resumed_at, rows = chunks.run_in_chunks(
            ctx, total, CHUNK_FRAMES, lambda a, b: cutter(clip.start + a, clip.start + b), mark, "cutting out the person",
            start_fraction=start_fraction, end_fraction=start_fraction + span * total / (total + 1), checkpoint_every_s=CHECKPOINT_EVERY_S,
        )
        cover_alpha = cutter.single(cover)
    except (VideoUnreadable, av.error.FFmpegError) as exc:
        raise unreadable(exc) from exc
    return Cut(rows["alpha"], cover_alpha, resumed_at, cutter.matted, time.monotonic() - started)
