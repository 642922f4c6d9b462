"""Cover frames: the still picture that stands for the avatar (its profile picture, the first frame
shown before it speaks), ranked.

A cover is looked at, not played, so a single frame must be right on its own: sharp, eyes open, a
neutral face (mouth closed, not mid-word), the face centred and turned to the camera, and the head
not moving (motion blur that sharpness alone may miss). Sharpness and eye opening are judged
against the video's own (its 90th percentile and median): they depend on the camera, the light and
the person. Only frames with a face and no quality flag can be covers; covers are kept apart in
time so that the person is offered different pictures, not one moment three times.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plugins.material_extraction.config import Config
from plugins.material_extraction.measures import FrameMeasures, off_centre, turn
from plugins.material_extraction.windows import pick_apart
from plugins.material_extraction.words import TURN_SCALE, cover_reason

WEIGHTS = {"sharp": 0.25, "eyes_open": 0.2, "neutral": 0.2, "centred": 0.15, "facing": 0.1, "still": 0.1}
SHARP_REFERENCE_PERCENTILE = 90  # as sharp as the video's sharpest tenth scores 1
MOTION_SCALE = 0.01  # share of the face width per frame that scores 1/e on stillness


def cover_scores(measures: FrameMeasures) -> dict[str, np.ndarray]:
    """Each criterion's score per frame, from 0 to 1 (NaN where there is no face)."""
    usable = measures.usable
    reference = float(np.percentile(measures.sharpness[usable], SHARP_REFERENCE_PERCENTILE)) if usable.any() else 1.0
    return {
        "sharp": np.minimum(1.0, measures.sharpness / max(reference, 1e-6)),
        "eyes_open": np.minimum(1.0, measures.eyes / measures.eyes_median),
        "neutral": 0.5 * measures.mouth_closed() + 0.5 * (1 - measures.speech_probability),
        "centred": 1 - np.minimum(1.0, off_centre(measures.points, measures.width, measures.height)),
        "facing": 1 - np.minimum(1.0, turn(measures.points) / TURN_SCALE),
        "still": np.exp(-np.nan_to_num(measures.motion, nan=1.0) / MOTION_SCALE),
    }


def propose_covers(measures: FrameMeasures, config: Config) -> list[dict[str, Any]]:
    """Up to `config.cover_count` frames, best first, at least `cover_spacing_s` apart."""
    scores = cover_scores(measures)
    total = sum(WEIGHTS[name] * values for name, values in scores.items())
    frames = np.flatnonzero(measures.usable)
    spacing = round(config.cover_spacing_s * measures.fps)
    picked = pick_apart([(float(total[i]), int(i), int(i) + 1) for i in frames], config.cover_count, gap=max(0, spacing - 1))
    sharp_median = float(np.median(measures.sharpness[measures.usable]))
    centre = off_centre(measures.points, measures.width, measures.height)
    turned = turn(measures.points)
    covers = []
    for index, (score, frame, _) in enumerate(picked, start=1):
        values = {
            "sharpness_to_median": float(measures.sharpness[frame] / sharp_median),
            "eye_opening_to_median": float(measures.eyes[frame] / measures.eyes_median),
            "mouth_opening": float(measures.mouth[frame]),
            "speech_probability": float(measures.speech_probability[frame]),
            "off_centre": float(centre[frame]),
            "turn": float(turned[frame]),
        }
        if np.isfinite(measures.motion[frame]):  # unknown right after a frame without a face
            values["head_motion"] = float(measures.motion[frame])
        covers.append({
            "id": f"c{index}", "frame": frame, "score": round(score, 4), "reason": cover_reason(values, measures.mouth_closed_below),
            "measures": {name: round(value, 5) for name, value in values.items()},
            "mouth_closed_below": round(measures.mouth_closed_below, 5),  # what the reason compares with, to say it in another language
        })
    return covers
