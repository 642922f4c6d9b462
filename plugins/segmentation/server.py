"""`segmentation`: a person matte for every frame of the submitted video, for cutting the person
out of the background and pasting a generated face back.

It streams the frames once, segments each with mediapipe's selfie segmentation (the model sees the
frame at the matte's size, at most 256 px), smooths the mattes over time, and stores them as
`matte.npz` (kind `matte`, docs/preprocessing.md). The work goes in chunks that are checkpointed,
so a crashed run resumes where it stopped. A video in which almost no frame shows a person fails
with advice: nothing downstream could be trained on it.
"""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np

from plugins.media.frames import VideoUnreadable
from plugins.sdk import chunks
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.sdk.video import unreadable, video_info
from plugins.segmentation.mattes import SMOOTHING, Mattes
from plugins.segmentation.segmenter import MATTE_LONGEST, MODEL_SELECTION, matte_size

MATTE_NAME = "matte.npz"
MATTE_KIND = "matte"
CHUNK_FRAMES = 250  # 10 s of a 25 fps video, one to three seconds of work
# A checkpoint holds every matte so far (64 KiB a frame, uncompressed): saved every 5 s it would
# write a 5-minute video's mattes several times over for a run that takes about a minute.
CHECKPOINT_EVERY_S = 20.0
MIN_PERSON_AREA = 0.02  # a frame shows a person when at least this share of its matte is person
MIN_PERSON_FRAMES = 0.1  # less than this share of frames with a person fails the stage
SEGMENTING = "segmenting the person"
WORK_SHARE = 0.95  # of the progress; saving the matte is the rest


def write_matte(path: Path, alpha: np.ndarray, width: int, height: int, fps: float) -> None:
    np.savez_compressed(
        path, alpha=alpha, width=np.int64(width), height=np.int64(height), fps=np.float64(fps), frame_count=np.int64(len(alpha))
    )


def no_person(seen: int, total: int) -> StageFailed:
    return StageFailed(
        "no_person",
        f"a person is seen in only {seen} of the {total} frames ({100 * seen / total:.0f}%), too few to cut out",
        "record yourself in the middle of the picture, head and shoulders visible, for the whole video, then send it again",
    )


class Segmentation(Plugin):
    name = "segmentation"
    version = "1.0.0"
    stages = ("segmentation",)
    description = "A person matte per frame (mediapipe selfie segmentation, smoothed over time), at most 256 px."
    cpu_cores = 1.0
    # The mattes stay in memory until saved, 64 KiB a frame, and are held twice for a moment while a
    # checkpoint joins them: 1.3 GB at peak for 5 minutes at 25 fps (measured), about 4 GB for the
    # longest video the intake accepts (15 minutes at 30 fps).
    memory_bytes = 4 * 1024**3
    parameters_schema = {"type": "object", "properties": {}, "additionalProperties": False}

    def run(self, ctx: RunContext) -> None:
        video = ctx.input("video")
        info = video_info(video)
        total = info.frame_count
        size = matte_size(info.width, info.height)
        mark = chunks.fingerprint(ctx, self.version, model=MODEL_SELECTION, longest=MATTE_LONGEST, smoothing=SMOOTHING)
        mattes = Mattes(video, total, size, lambda n: ctx.progress(WORK_SHARE * n / total, f"{SEGMENTING}: {n} of {total}"))
        started = time.monotonic()
        try:
            resumed_at, rows = chunks.run_in_chunks(
                ctx, total, CHUNK_FRAMES, mattes, mark, SEGMENTING, end_fraction=WORK_SHARE, checkpoint_every_s=CHECKPOINT_EVERY_S
            )
        except (VideoUnreadable, av.error.FFmpegError) as exc:
            raise unreadable(exc) from exc
        finally:
            mattes.close()
        elapsed = time.monotonic() - started
        seen = int((rows["person"] >= MIN_PERSON_AREA).sum())
        ctx.summary = {
            "frames": total,
            "frames_with_person": seen,
            "matte_width": size[0],
            "matte_height": size[1],
            "resumed_at": resumed_at,
            "ms_per_frame": round(1000 * elapsed / max(1, total - resumed_at), 2),
        }
        if seen < MIN_PERSON_FRAMES * total:
            raise no_person(seen, total)
        ctx.progress(WORK_SHARE, "saving the matte")
        path = ctx.workdir / MATTE_NAME
        write_matte(path, rows["alpha"], info.width, info.height, info.fps)
        ctx.summary["matte_bytes"] = path.stat().st_size
        metadata = {"fps": info.fps, "frame_count": total, "width": info.width, "height": info.height, "matte_width": size[0], "matte_height": size[1]}
        ctx.save_artifact(path, MATTE_NAME, MATTE_KIND, metadata)
        ctx.progress(1.0, "the matte is saved")


if __name__ == "__main__":
    main(Segmentation())
