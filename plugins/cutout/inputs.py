"""What a cut-out is made from: the video, the segmentation's matte, the face mesh of the training
set and the materials' chosen clip and cover, read and checked against each other.

The matte is read row by row from its compressed member, never whole: a 15-minute video's matte is
1.7 GB unpacked, and a cut-out needs only a few seconds of it.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plugins.media.frames import VideoInfo
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import TrainingSetError, open_training_set

RERUN = "submit the video again so that every preprocessing stage runs on it afresh"
PICK = "pick a driving clip and a cover among the proposed materials, or run material_extraction again"


@dataclass(frozen=True)
class Clip:
    id: str
    start: int  # inclusive frame number
    stop: int  # exclusive


@dataclass
class Sources:
    video: Path
    info: VideoInfo
    matte_path: Path
    landmarks: np.ndarray  # float32[N, 468, 2], crop pixels (memory-mapped)
    boxes: np.ndarray  # float32[N, 4], the crops in frame pixels
    crop_size: int
    materials: dict[str, Any]

    def face_points(self, number: int) -> np.ndarray:
        """float32[468, 2]: frame `number`'s face mesh in frame pixels (NaN where no face)."""
        box = self.boxes[number]
        return box[:2] + self.landmarks[number] * ((box[2] - box[0]) / self.crop_size)

    def matte_rows(self, first: int, stop: int) -> np.ndarray:
        return read_rows(self.matte_path, "alpha", first, stop)


def read_rows(npz: Path, name: str, first: int, stop: int) -> np.ndarray:
    """Rows first..stop-1 of a (possibly compressed) array member of an .npz, decompressing up to
    them without holding the rows before."""
    with zipfile.ZipFile(npz) as archive, archive.open(f"{name}.npy") as member:
        major, _ = np.lib.format.read_magic(member)
        header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = header(member)
        if fortran:
            raise ValueError(f"{name} in {npz.name} is stored in Fortran order")
        row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        member.seek(member.tell() + first * row)
        data = member.read((stop - first) * row)
    return np.frombuffer(data, dtype).reshape((stop - first, *shape[1:])).copy()


def read_sources(ctx: RunContext, video: Path, info: VideoInfo, materials: dict[str, Any]) -> Sources:
    matte_path = ctx.input("matte")
    try:
        with np.load(matte_path, allow_pickle=False) as matte:
            count, width, height = int(matte["frame_count"]), int(matte["width"]), int(matte["height"])
        trained = open_training_set(ctx.input("training_set"))
    except (OSError, ValueError, KeyError, TrainingSetError) as exc:
        raise StageFailed("bad_input", f"the segmentation matte or the training set cannot be read ({exc})", RERUN) from exc
    if count != info.frame_count or (width, height) != (info.width, info.height) or trained.frame_count != info.frame_count:
        raise StageFailed(
            "inconsistent_inputs",
            f"the matte ({count} frames, {width}x{height}) and the training set ({trained.frame_count} frames) "
            f"do not match the video ({info.frame_count} frames, {info.width}x{info.height})",
            RERUN,
        )
    return Sources(
        video=video, info=info, matte_path=matte_path, landmarks=trained["landmarks"], boxes=trained["boxes"],
        crop_size=int(trained.manifest["crop_size"]), materials=materials,
    )


def read_materials(path: Path) -> dict[str, Any]:
    try:
        materials = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StageFailed("bad_input", f"materials.json cannot be read ({exc})", PICK) from exc
    if not isinstance(materials, dict) or materials.get("format") != "twinforge.materials":
        raise StageFailed("bad_input", "the materials input is not a twinforge.materials file", PICK)
    return materials


def chosen(materials: dict[str, Any], section: str, key: str) -> dict[str, Any]:
    """The entry of `section` (driving_clips, covers) that `chosen[key]` names, or its first one."""
    entries = materials.get(section) or []
    wanted = (materials.get("chosen") or {}).get(key)
    picked = next((e for e in entries if e.get("id") == wanted), None if wanted else (entries[0] if entries else None))
    if picked is None:
        raise StageFailed("no_material", f"the materials name no {section.replace('_', ' ')[:-1]}{f' {wanted!r}' if wanted else ''}", PICK)
    return picked


def driving_clip(materials: dict[str, Any], frame_count: int) -> Clip:
    clip = chosen(materials, "driving_clips", "driving")
    start, stop = int(clip["start"]), int(clip["stop"])
    if not 0 <= start < stop <= frame_count:
        raise StageFailed("bad_input", f"driving clip {clip.get('id')!r} spans frames {start}..{stop}, outside the video's {frame_count}", PICK)
    return Clip(str(clip.get("id", "")), start, stop)


def cover_frame(materials: dict[str, Any], frame_count: int) -> int:
    cover = chosen(materials, "covers", "cover")
    frame = int(cover["frame"])
    if not 0 <= frame < frame_count:
        raise StageFailed("bad_input", f"cover {cover.get('id')!r} is frame {frame}, outside the video's {frame_count}", PICK)
    return frame
