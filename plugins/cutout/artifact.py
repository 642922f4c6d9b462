"""`cutout.npz` (docs/model.md, docs/materials-editing.md) and the publishing of a cut-out version:
the file, its RGBA frames and its preview, stored as the run's outputs.

Beside the arrays rendering reads (`alpha`, `cover_alpha`, `start`, `stop`, `background`), the file
keeps what the next edit needs: its version number, the recipe it was made with, the regions
offered to keep and the recorded background's dominant colours offered to key out. `background`
is absent (keep the recorded one), an RGB colour uint8[3], or an image uint8[H, W, 3] already
fitted to the frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from plugins.cutout.inputs import Clip
from plugins.cutout.recipe import recipe_from_text, recipe_to_text
from plugins.cutout.render import render
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed

CUTOUT_NAME, CUTOUT_KIND = "cutout.npz", "cutout"
FRAMES_NAME, FRAMES_KIND = "cutout_frames.zip", "cutout_frames"
PREVIEW_NAME, PREVIEW_KIND = "cutout_preview.mp4", "cutout_preview"
FORMAT = "twinforge.cutout"


@dataclass(frozen=True)
class Cutout:
    alpha: np.ndarray  # uint8[F, H, W]
    cover_alpha: np.ndarray  # uint8[H, W]
    clip: Clip
    cover: int
    fps: float
    version: int
    recipe: dict[str, Any]
    regions: list[dict[str, Any]]
    background: np.ndarray | None
    background_colours: list[list[int]] = field(default_factory=list)  # [[r, g, b], ...], the largest share first

    def frames(self) -> dict[int, np.ndarray]:
        """Every alpha by frame number, for reuse by an edit with the same matting recipe."""
        rows = {self.clip.start + row: self.alpha[row] for row in range(len(self.alpha))}
        rows.setdefault(self.cover, self.cover_alpha)
        return rows

    def with_(self, **changes: Any) -> Cutout:
        return replace(self, **changes)


def write_cutout(path: Path, cutout: Cutout) -> None:
    arrays = {
        "format": np.array(FORMAT),
        "alpha": cutout.alpha,
        "cover_alpha": cutout.cover_alpha,
        "start": np.int64(cutout.clip.start),
        "stop": np.int64(cutout.clip.stop),
        "clip_id": np.array(cutout.clip.id),
        "cover": np.int64(cutout.cover),
        "fps": np.float64(cutout.fps),
        "width": np.int64(cutout.alpha.shape[2]),
        "height": np.int64(cutout.alpha.shape[1]),
        "version": np.int64(cutout.version),
        "recipe": np.array(recipe_to_text(cutout.recipe)),
        "regions": np.array(json.dumps(cutout.regions, sort_keys=True)),
        "background_colours": np.array(cutout.background_colours, np.uint8).reshape(-1, 3),
    }
    if cutout.background is not None:
        arrays["background"] = cutout.background.astype(np.uint8)
    np.savez_compressed(path, **arrays)


def read_cutout(path: Path) -> Cutout:
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != FORMAT:
                raise ValueError("not a twinforge.cutout file")
            return Cutout(
                alpha=data["alpha"],
                cover_alpha=data["cover_alpha"],
                clip=Clip(str(data["clip_id"]), int(data["start"]), int(data["stop"])),
                cover=int(data["cover"]),
                fps=float(data["fps"]),
                version=int(data["version"]),
                recipe=recipe_from_text(str(data["recipe"])),
                regions=json.loads(str(data["regions"])),
                background=data["background"] if "background" in data.files else None,
                background_colours=data["background_colours"].tolist() if "background_colours" in data.files else [],
            )
    except (OSError, ValueError, KeyError) as exc:
        raise StageFailed(
            "bad_input", f"the cut-out cannot be read ({exc})", "go back to an earlier version of the materials, or run the cutout stage again"
        ) from exc


def publish(ctx: RunContext, video: Path, cutout: Cutout, start_fraction: float) -> dict[str, Any]:
    """Renders and stores the three artifacts of this version; returns their sizes for the summary."""
    count = len(cutout.alpha)
    span = 1.0 - start_fraction
    paths = {name: ctx.workdir / name for name in (CUTOUT_NAME, FRAMES_NAME, PREVIEW_NAME)}
    write_cutout(paths[CUTOUT_NAME], cutout)
    render(
        video, cutout.fps, cutout.clip.start, cutout.alpha, cutout.cover, cutout.cover_alpha, float(cutout.recipe["despill"]),
        cutout.background, paths[FRAMES_NAME], paths[PREVIEW_NAME],
        lambda row: ctx.progress(start_fraction + span * (row + 1) / (count + 1), f"rendering frame {row + 1} of {count}"),
    )
    metadata = {
        "version": cutout.version, "start": cutout.clip.start, "stop": cutout.clip.stop, "cover": cutout.cover, "fps": cutout.fps,
        "width": int(cutout.alpha.shape[2]), "height": int(cutout.alpha.shape[1]),
    }
    for name, kind in ((CUTOUT_NAME, CUTOUT_KIND), (FRAMES_NAME, FRAMES_KIND), (PREVIEW_NAME, PREVIEW_KIND)):
        ctx.save_artifact(paths[name], name, kind, metadata)
    return {"bytes": {name: path.stat().st_size for name, path in paths.items()}}
