"""`material_extraction`: what training and deployment take from the person's own video besides the
training set (docs/materials.md): driving clips to replay under generated lips, cover frames, and
test clips of speech held out of training for acceptance, each proposed ranked with its reason,
the best of each chosen until the person picks otherwise.

Everything is measured on the training set (its face mesh, boxes, crops, speech and quality
flags), never by decoding the video again: the whole stage takes about a second a minute of
video, so it keeps no checkpoint (a retried run simply starts over). The video is an input only
to check that the training set was made from it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from host.settings import get_settings
from plugins.material_extraction.config import Config, as_dict, config_from, json_schema
from plugins.material_extraction.covers import propose_covers
from plugins.material_extraction.driving import propose_driving
from plugins.material_extraction.held_out import propose_tests
from plugins.material_extraction.measures import FrameMeasures, measure
from plugins.material_extraction.windows import merged
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.sdk.training_set import TrainingSet, TrainingSetError, open_training_set
from plugins.sdk.video import video_info

ARTIFACT_NAME = "materials.json"
ARTIFACT_KIND = "materials"
FORMAT = "twinforge.materials"
FORMAT_VERSION = 1
MEASURING_SHARE = 0.8  # of the progress bar; ranking and writing are the rest
REMAKE_ADVICE = "run the crop stage again for this video, then this stage"


class MaterialExtraction(Plugin):
    name = "material_extraction"
    version = "1.0.0"
    stages = ("material_extraction",)
    description = (
        "Proposes, ranked with reasons, the driving clips (steady, calm, loopable), the cover frames (sharp, eyes "
        "open, neutral, centred) and the held-out test clips of speech, from the training set's measures."
    )
    cpu_cores = 1.0
    memory_bytes = 1024**3
    parameters_schema = json_schema()

    def run(self, ctx: RunContext) -> None:
        preset, config = config_from(ctx.parameters, get_settings().intake_preset)
        ctx.progress(0.0, "reading the training set")
        training_set = read_training_set(ctx)
        try:
            measures = measure(training_set, lambda fraction, message: ctx.progress(MEASURING_SHARE * fraction, message))
        except ValueError as exc:
            raise StageFailed(
                "no_face", f"the training set has no frame with a face ({exc}), so there is nothing to choose from",
                "record the video again with your face in the picture, then send it as the avatar's next version",
            ) from exc
        ctx.progress(MEASURING_SHARE, "ranking the driving clips")
        driving, driving_notes = propose_driving(measures, training_set["faces"], config)
        if not driving:
            raise no_driving_clip(measures, config)
        covers = propose_covers(measures, config)
        ctx.progress(0.9, "choosing the test clips")
        keep = [(driving[0]["start"], driving[0]["stop"]), (covers[0]["frame"], covers[0]["frame"] + 1)]
        tests, test_notes = propose_tests(measures, config, keep)
        if not tests:
            raise StageFailed(
                "no_test_clip",
                "no stretch of the video has speech with the face in view long enough to test lip sync on",
                "record the video again speaking to the camera for most of it, then send it as the avatar's next version",
            )
        notes = driving_notes + test_notes
        for note in notes:
            ctx.log(note, "warning")
        materials = document(training_set, measures, driving, covers, tests, notes, preset, config)
        path = ctx.workdir / ARTIFACT_NAME
        path.write_text(json.dumps(materials, indent=2, allow_nan=False))
        ctx.save_artifact(path, ARTIFACT_NAME, ARTIFACT_KIND, {
            "fps": measures.fps, "frame_count": measures.frame_count, "format_version": FORMAT_VERSION,
        })
        ctx.metric("driving_head_motion", driving[0]["measures"]["head_motion"])
        ctx.metric("video_head_motion", materials["video"]["head_motion_mean"])
        ctx.summary = {
            "driving_clips": len(driving), "covers": len(covers), "test_clips": len(tests),
            "chosen": materials["chosen"], "held_out_frames": sum(stop - start for start, stop in materials["exclude_from_training"]),
        }
        ctx.progress(1.0, "the materials are proposed")


def read_training_set(ctx: RunContext) -> TrainingSet:
    """The training set, refused when it was not made from the submitted video."""
    try:
        training_set = open_training_set(ctx.input("training_set"))
    except TrainingSetError as exc:
        raise StageFailed("bad_training_set", str(exc), REMAKE_ADVICE) from exc
    info = video_info(ctx.input("video"))
    video = next(item for item in ctx.inputs if item.ref.kind == "video")
    made_from = training_set.manifest.get("video_sha256")
    if (video.ref.sha256 and made_from and video.ref.sha256 != made_from) or info.frame_count != training_set.frame_count:
        raise StageFailed(
            "inputs_mismatch",
            f"the training set was made from another video (sha256 {made_from}, {training_set.frame_count} frames) "
            f"than the one submitted (sha256 {video.ref.sha256 or 'unknown'}, {info.frame_count} frames)",
            REMAKE_ADVICE,
        )
    return training_set


def no_driving_clip(measures: FrameMeasures, config: Config) -> StageFailed:
    usable = float(measures.usable.mean())
    return StageFailed(
        "no_driving_clip",
        f"no {config.driving_min_s:g} s stretch of the video shows the face calm and clear in every frame: without blur, "
        f"large motion or the face leaving the picture ({100 * usable:.0f} % of the frames are clear, "
        "in shorter pieces or moving more than the rest)",
        f"record the video again with {config.driving_min_s:g} to {config.driving_max_s:g} s at the start where you sit "
        "still, silent, mouth closed, looking at the camera in good light; or run this stage with a shorter driving_min_s",
    )


def document(
    training_set: TrainingSet, measures: FrameMeasures, driving: list[dict[str, Any]], covers: list[dict[str, Any]],
    tests: list[dict[str, Any]], notes: list[str], preset: str, config: Config,
) -> dict[str, Any]:
    """materials.json (docs/materials.md), the best proposal of each kind chosen."""
    manifest = training_set.manifest
    face = measures.usable
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fps": measures.fps,
        "frame_count": measures.frame_count,
        "width": measures.width,
        "height": measures.height,
        "driving_clips": driving,
        "covers": covers,
        "test_clips": tests,
        "chosen": {"driving": driving[0]["id"], "cover": covers[0]["id"], "tests": [clip["id"] for clip in tests]},
        "exclude_from_training": merged([(clip["start"], clip["stop"]) for clip in tests]),
        "notes": notes,
        "video": {
            "head_motion_mean": round(float(np.nanmean(measures.motion[1:])), 5),
            "head_motion_median": round(float(np.nanmedian(measures.motion[1:])), 5),
            "speech_share": round(float(measures.speech.mean()), 4),
            "usable_share": round(float(face.mean()), 4),
            "face_width_px": round(measures.face_width, 2),
            "eye_opening_median": round(measures.eyes_median, 5),
            "mouth_closed_below": round(measures.mouth_closed_below, 5),
            "sharpness_median": round(float(np.median(measures.sharpness[face])), 3) if face.any() else None,
        },
        "parameters": {"preset": preset, **as_dict(config)},
        "training_set": {"video_sha256": manifest.get("video_sha256"), "runs": manifest.get("runs", {})},
        "made_by": {"plugin": MaterialExtraction.name, "version": MaterialExtraction.version},
    }


if __name__ == "__main__":
    main(MaterialExtraction())
