"""`crop`: the last preprocessing stage, which turns the video and every upstream output into the
training set (docs/preprocessing.md) that training reads at random without decoding anything.

It streams the frames once, cuts each frame's crop box from the face track and resizes it to the
preset's size, and the lower face at the person's own resolution beside it (what the refiner learns
to draw, so that a close-up or a 1080p phone video keeps its teeth and lip edges), and keeps the
pictures of finished chunks as the chunked work's rows, so that they are in the checkpoint and a
crash costs at most the last few seconds of work. Memory: the pictures of the whole video are held
until the zip is written, 2.7 MB a second of 25 fps video at 96 px (`tiny`), 4.9 MB at 128 px
(`draft` and `standard`, plus up to 2.8 MB of lower faces at 192 px: about 690 MB for five minutes)
and 19.7 MB at 256 px (`high`, plus up to 4.9 MB: about 2.2 GB for five minutes, more while the
checkpoint joins its rows), which is why `memory_bytes` is 4 GiB.
The segmentation matte is not used here; it is an input so that the training set is made only
once every preprocessing stage has succeeded.

The host does not tell a plugin which submission version it works on (RunRequest has no such
field), so the manifest's `submission_version` is null and the submission is named by its video's
blob key and sha256 instead.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from host.settings import get_settings
from plugins.crop.frames import FrameCursor
from plugins.crop.geometry import cut, fill_boxes, landmarks_in_crop, lower_face_squares, lower_size, pixel_boxes, sharpness
from plugins.media.squares import cut_square
from plugins.crop.inputs import Upstream, read_upstream
from plugins.crop.quality import flag_counts, quality_flags
from plugins.lipsync.data import lower_face_box
from plugins.media.audio import SAMPLE_RATE
from plugins.media.frames import VideoInfo
from plugins.sdk import chunks
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.sdk.training_set import QUALITY_FLAGS, write_training_set
from plugins.sdk.video import video_info
from host.presets import PRESETS_ORDER

ARTIFACT_NAME = "training_set.zip"
ARTIFACT_KIND = "training_set"
CROP_SIZES = {"tiny": 96, "draft": 128, "standard": 128, "high": 256}
# The most pixels across the lower face is kept at, at the person's own resolution (what the refiner
# learns to draw, docs/model.md): enough for the evaluation's sharpness (a mouth square of 128 px is
# 192 px of lower face) at draft and standard, the whole 256 at high.
LOWER_SIZES = {"tiny": 64, "draft": 192, "standard": 192, "high": 256}
CHUNK_FRAMES = 25  # about a second of video: progress about every second, at most that lost to a crash
CHECKPOINT_EVERY_S = chunks.CHECKPOINT_EVERY_S
CUTTING_SHARE = 0.9  # of the progress bar; writing the zip is the rest


class Crop(Plugin):
    name = "crop"
    version = "2.0.0"
    stages = ("crop",)
    description = (
        "The training set: each frame's face cut from the face track's crop box and resized to the preset's size, "
        "landmarks in crop pixels, speech mask, log-mel, sound and quality flags in one memory-mappable zip."
    )
    cpu_cores = 1.0
    memory_bytes = 4 * 1024**3
    parameters_schema = {
        "type": "object",
        "properties": {"preset": {"enum": list(PRESETS_ORDER)}},
        "additionalProperties": False,
    }

    def run(self, ctx: RunContext) -> None:
        preset = ctx.parameters.get("preset", get_settings().intake_preset)
        size = CROP_SIZES[preset]
        video = ctx.input("video")
        ctx.progress(0.0, "reading the preprocessing results")
        info = video_info(video)
        upstream = read_upstream(ctx, info)
        tracked = fill_boxes(upstream.crop_box)
        if not np.isfinite(tracked).all():
            raise StageFailed(
                "no_face",
                "the face track found no face in any frame, so there is no face to train on",
                "record the video again with your face in the picture, then send it as the avatar's next version",
            )
        boxes = pixel_boxes(tracked)
        landmarks = landmarks_in_crop(upstream.landmarks, boxes, size)
        fractions = lower_face_box(landmarks[upstream.found], size)
        squares = lower_face_squares(boxes.astype(np.float64), fractions.astype(np.float64))
        lower = lower_size(squares[upstream.found], LOWER_SIZES[preset])
        cursor = FrameCursor(video)

        def process(first: int, stop: int) -> dict[str, np.ndarray]:
            faces = np.empty((stop - first, size, size, 3), dtype=np.uint8)
            lowers = np.empty((stop - first, lower, lower, 3), dtype=np.uint8)
            sharp = np.empty(stop - first, dtype=np.float32)
            for row, picture in enumerate(cursor.frames(first, stop)):
                faces[row] = cut(picture, boxes[first + row], size)
                lowers[row] = cut_square(picture, *squares[first + row], lower)
                sharp[row] = sharpness(faces[row])
            return {"faces": faces, "lower": lowers, "sharpness": sharp}

        mark = chunks.fingerprint(ctx, self.version, preset=preset)
        resumed_at, rows = chunks.run_in_chunks(
            ctx, info.frame_count, CHUNK_FRAMES, process, mark, "cutting the faces",
            end_fraction=CUTTING_SHARE, checkpoint_every_s=CHECKPOINT_EVERY_S,
        )
        flags = quality_flags(upstream.found, upstream.landmarks, tracked, rows["sharpness"], info.width, info.height, info.fps)
        ctx.progress(CUTTING_SHARE, "writing the training set")
        path = ctx.workdir / ARTIFACT_NAME
        arrays = {
            "faces": rows["faces"],
            "lower": rows["lower"],
            "boxes": boxes,
            "landmarks": landmarks,
            "speech": upstream.speech,
            "speech_probability": upstream.speech_probability,
            "mel": upstream.mel,
            "quality": flags,
        }
        made = {**manifest(ctx, info, upstream, preset, size, flags), "lower_box": [float(v) for v in fractions], "lower_size": lower}
        written = write_training_set(path, made, arrays, upstream.audio)
        metadata = {"fps": info.fps, "frame_count": info.frame_count, "crop_size": size, "lower_size": lower, "preset": preset}
        ctx.save_artifact(path, ARTIFACT_NAME, ARTIFACT_KIND, metadata)
        ctx.summary = {**written, "resumed_at_frame": resumed_at}
        ctx.progress(1.0, "the training set is ready")


def manifest(ctx: RunContext, info: VideoInfo, upstream: Upstream, preset: str, size: int, flags: np.ndarray) -> dict:
    source = next(item for item in ctx.inputs if item.ref.kind == "video")
    return {
        "avatar_id": ctx.avatar_id,
        "submission_version": None,
        "submission_video_key": source.ref.key,
        "video_sha256": source.ref.sha256 or file_sha256(source.path),
        "fps": info.fps,
        "frame_count": info.frame_count,
        "width": info.width,
        "height": info.height,
        "crop_size": size,
        "preset": preset,
        "mel_rate": upstream.mel_rate,
        "audio_rate": SAMPLE_RATE,
        "quality": flag_counts(flags),
        "quality_flags": QUALITY_FLAGS,
        "runs": {**upstream.runs, "crop": ctx.run_id},
        "made_by": {"plugin": Crop.name, "version": Crop.version},
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


if __name__ == "__main__":
    main(Crop())
