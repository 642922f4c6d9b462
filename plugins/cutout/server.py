"""`cutout`: the person cut out of the chosen driving clip and the cover frame, as the first
version of the editable materials (docs/materials-editing.md).

A trimap is built on each frame from the segmentation's matte and the face mesh, matted with
pymatting at a working size on keyframes, carried to every frame and to full resolution by the
guided filter's colour model, and the background's colour is taken out of the edges. Outputs:
`cutout.npz` (the alpha, kind `cutout`), `cutout_frames.zip` (RGBA PNGs, kind `cutout_frames`) and
`cutout_preview.mp4` (on a checkerboard, kind `cutout_preview`). The summary lists the objects
touching the person that the bot offers to keep and the recorded background's dominant colours
that it offers to key out. The matting is done in checkpointed chunks.
"""

from __future__ import annotations

import cv2
import numpy as np

from plugins.crop.frames import FrameCursor
from plugins.cutout.artifact import Cutout, publish
from plugins.cutout.colours import dominant_colours
from plugins.cutout.inputs import Clip, Sources, cover_frame, driving_clip, read_materials, read_sources
from plugins.cutout.pipeline import Cut, cut_out
from plugins.cutout.recipe import default_recipe
from plugins.cutout.regions import offered_regions
from plugins.cutout.trimap import working_size
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.sdk.video import video_info

MATTING_SHARE = 0.8  # of the progress; rendering the frames and the preview is the rest
COLOUR_FRAMES = 5  # spread over the clip: a person who moves uncovers more of the background


def regions_of(sources: Sources, cover: int) -> list[dict]:
    """The objects touching the person on the cover frame, offered to keep."""
    size = working_size(sources.info.width, sources.info.height)
    picture = next(FrameCursor(sources.video).frames(cover, cover + 1))
    work = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(sources.matte_rows(cover, cover + 1)[0], size, interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    return offered_regions(work, coarse, size[0] / sources.info.width)


def background_colours(sources: Sources, clip: Clip, alpha: np.ndarray) -> list[list[int]]:
    """The dominant colours behind the person over a few frames of the clip (plugins/cutout/colours.py)."""
    rows = sorted({int(row) for row in np.linspace(0, len(alpha) - 1, min(COLOUR_FRAMES, len(alpha))).round()})
    cursor = FrameCursor(sources.video)
    pictures = [next(cursor.frames(clip.start + row, clip.start + row + 1)) for row in rows]
    return dominant_colours(pictures, [alpha[row] for row in rows])


def timing(cut: Cut) -> dict[str, float]:
    return {"matting_seconds": round(cut.seconds, 2), "seconds_per_frame": round(cut.seconds / max(1, cut.matted), 4)}


class CutoutStage(Plugin):
    name = "cutout"
    version = "1.1.0"
    stages = ("cutout",)
    description = "The person cut out of the driving clip and the cover: pymatting on a trimap from the segmentation and the face mesh, spill removed."
    cpu_cores = 1.0
    # The clip's alpha at full resolution (a 10 s 1080p clip: 520 MB) and one chunk of frames.
    memory_bytes = 2 * 1024**3
    parameters_schema = {"type": "object", "properties": {}, "additionalProperties": False}

    def run(self, ctx: RunContext) -> None:
        video = ctx.input("video")
        info = video_info(video)
        materials = read_materials(ctx.input("materials"))
        sources = read_sources(ctx, video, info, materials)
        clip, cover = driving_clip(materials, info.frame_count), cover_frame(materials, info.frame_count)
        ctx.progress(0.0, "finding the objects that touch the person")
        regions = regions_of(sources, cover)
        recipe = default_recipe()
        cut = cut_out(ctx, sources, recipe, clip, cover, {}, 0.0, MATTING_SHARE)
        colours = background_colours(sources, clip, cut.alpha)
        cutout = Cutout(cut.alpha, cut.cover_alpha, clip, cover, info.fps, 1, recipe, regions, None, colours)
        sizes = publish(ctx, video, cutout, MATTING_SHARE)
        ctx.summary = {
            "version": 1, "start": clip.start, "stop": clip.stop, "cover": cover, "regions": regions, "background_colours": colours,
            "resumed_at_frame": clip.start + cut.resumed_at, **timing(cut), **sizes,
            "edit": {"version": 1, "by": "twinforge", "operation": "cutout", "parameters": {}},
        }
        ctx.progress(1.0, "the cut-out is ready")


if __name__ == "__main__":
    main(CutoutStage())
