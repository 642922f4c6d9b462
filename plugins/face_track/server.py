"""`face_track`: the 468-point face mesh in every frame and a steady square crop box around it.

The video is streamed through one open reader, ten seconds per chunk, each chunk tracked by a fresh
mediapipe FaceMesh (plugins/face_track/mesh.py), so a crash resumes at the last checkpoint and
gives the rows an uninterrupted run gives. Once every frame is tracked, the crop box is smoothed
over the whole video (plugins/face_track/smoothing.py). The output, `face_track.npz` (kind
`face_track`), holds `found`, `landmarks`, `box`, `crop_box` and `redetected` for the N frames,
with `fps` and `frame_count` (docs/preprocessing.md). A video where the face is missing from most
frames fails with `no_face`: nothing downstream could learn from it.
"""

from __future__ import annotations

import time

import numpy as np

from plugins.face_track.mesh import track_chunk
from plugins.face_track.reader import FrameCursor
from plugins.face_track.smoothing import MARGIN, crop_boxes, landmark_boxes
from plugins.sdk import chunks
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.sdk.video import video_info

OUTPUT_NAME = "face_track.npz"
OUTPUT_KIND = "face_track"
CHUNK_S = 10.0
CHECKPOINT_EVERY_S = chunks.CHECKPOINT_EVERY_S
MIN_FOUND_SHARE = 0.5
TRACK_START, TRACK_END = 0.02, 0.95
MESSAGE = "tracking the face"

NO_FACE = "no_face"
NO_FACE_ADVICE = (
    "record again facing the camera, with your whole face in the picture and evenly lit, and "
    "nothing in front of it; then send the video as the avatar's next version"
)


def frame_progress(ctx: RunContext, total: int):
    """A per-frame callback reporting progress (the context throttles it to about one a second)
    with an ETA from this attempt's own speed, so a resumed run does not count the frames an
    earlier attempt tracked as done in no time."""
    started = time.monotonic()
    first: list[int] = []

    def report(number: int) -> None:
        if not first:
            first.append(number)
        done = number + 1
        rate = (done - first[0]) / max(time.monotonic() - started, 1e-6)
        eta = (total - done) / rate if rate > 0 else None
        ctx.progress(TRACK_START + (TRACK_END - TRACK_START) * done / total, f"{MESSAGE}: frame {done} of {total}", eta)

    return report


class FaceTrack(Plugin):
    name = "face_track"
    version = "1.0.0"
    stages = ("face_track",)
    description = (
        "The 468-point face mesh of every frame (mediapipe FaceMesh, tracked, re-detected when lost) "
        "and a square crop box around the face, smoothed over time."
    )
    cpu_cores = 1.0  # mediapipe's CPU graph and the decoder each run on one thread, in turn
    memory_bytes = 1024**3  # mediapipe about 230 MB; the mesh is 5.6 kB a frame, held about three times over
    parameters_schema = {
        "type": "object",
        "properties": {"margin": {"type": "number", "minimum": 1.2, "maximum": 3.0, "default": MARGIN}},
        "additionalProperties": False,
    }

    def run(self, ctx: RunContext) -> None:
        video = ctx.input("video")
        ctx.progress(0.01, "opening the video")
        info = video_info(video)
        margin = float(ctx.parameters.get("margin", MARGIN))
        on_frame = frame_progress(ctx, info.frame_count)
        cursor = FrameCursor(video)
        try:
            _, rows = chunks.run_in_chunks(
                ctx,
                info.frame_count,
                max(1, int(round(CHUNK_S * info.fps))),
                lambda first, stop: track_chunk(cursor.chunk(first, stop), first, stop, on_frame),
                chunks.fingerprint(ctx, self.version),
                MESSAGE,
                start_fraction=TRACK_START,
                end_fraction=TRACK_END,
                checkpoint_every_s=CHECKPOINT_EVERY_S,
            )
        finally:
            cursor.close()
        found = rows["found"]
        share = float(found.mean()) if found.size else 0.0
        metadata = {"fps": info.fps, "frame_count": info.frame_count, "width": info.width, "height": info.height, "found_share": round(share, 4)}
        ctx.summary = metadata | {"redetections": int(rows["redetected"].sum())}
        if share < MIN_FOUND_SHARE:
            raise StageFailed(NO_FACE, f"a face was found in only {share:.0%} of the frames", NO_FACE_ADVICE)
        ctx.progress(TRACK_END, "smoothing the crop box")
        box = landmark_boxes(rows["landmarks"])
        path = ctx.workdir / OUTPUT_NAME
        np.savez(
            path,
            found=found,
            landmarks=rows["landmarks"],
            box=box,
            crop_box=crop_boxes(box, info.width, info.height, info.fps, margin),
            redetected=rows["redetected"],
            fps=np.float64(info.fps),
            frame_count=np.int64(info.frame_count),
        )
        ctx.save_artifact(path, OUTPUT_NAME, OUTPUT_KIND, metadata)
        ctx.progress(1.0, f"a face in {share:.0%} of the frames")


if __name__ == "__main__":
    main(FaceTrack())
