"""Driving clips: the stretches of the person's own video that the avatar replays under generated
lips, ranked.

A driving clip is seen for as long as the avatar speaks, over and over, so what matters is what a
viewer notices in a loop: the head moving (it jumps at each restart), speech or an open mouth (the
generated mouth fights the recorded jaw), closed eyes. Each clip is scored on those four, from 0 to 1,
weighted by how much each shows; a longer clip gets up to a tenth more (its loop repeats less
often). Only frames with a face and no quality flag can be in a clip: a blurred or jumping frame in
a loop would show at every pass; and only clips whose head moves less than the video's average, so
that every proposal is among the person's calmer moments even in a video with no pause at all.
A clip loops `forward` when a last frame close to its first can be found in its final half second
(the clip is cut there), else `pingpong` (played forth and back).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plugins.material_extraction.config import Config
from plugins.material_extraction.measures import FrameMeasures, picture_gap, pose_gap
from plugins.material_extraction.windows import pick_apart, window_means
from plugins.material_extraction.words import SILENT_BELOW, driving_reason

MOTION_SCALE = 0.005  # head motion (share of the face width per frame) that scores 1/e on steadiness
WEIGHTS = {"steady": 0.4, "silent": 0.25, "mouth_closed": 0.2, "eyes_open": 0.15}
LENGTH_BONUS = 0.1  # the longest clip allowed scores this share more than the shortest
FEWEST_WANTED = 3  # fewer driving clips than this leave the person little choice: the notes say so
LOOP_SEARCH_S = 0.5  # where a forward loop's last frame is looked for, before the window's end
LOOP_POSE = 0.01  # first and last frames' head positions this close (share of the face width)...
LOOP_PICTURE = 0.03  # ...and their crops this close (mean difference, share of the range) loop forward


def propose_driving(measures: FrameMeasures, faces: np.ndarray, config: Config) -> tuple[list[dict[str, Any]], list[str]]:
    """(clips, notes): up to `config.driving_count` clips, best first (none when no stretch of
    usable frames is long enough), each with its score, loop mode, measures and reason; and what a
    person should know (the video has no silent stretch to drive with)."""
    fps = measures.fps
    shortest = max(2, round(config.driving_min_s * fps))
    longest = max(shortest, round(config.driving_max_s * fps))
    video_motion = float(np.nanmean(measures.motion[1:])) if measures.frame_count > 1 else 0.0
    candidates = scored_windows(measures, shortest, longest, config.search_step, video_motion)
    picked = pick_apart(candidates, config.driving_count)
    clips = []
    for index, (score, start, stop) in enumerate(picked, start=1):
        stop, loop, gaps = loop_mode(measures, faces, start, stop, shortest)
        values = {**components(measures, start, stop), **gaps}
        clips.append({
            "id": f"d{index}", "start": start, "stop": stop, "loop": loop, "score": round(score, 4),
            "reason": driving_reason(values, video_motion, loop),
            "measures": {name: round(float(value), 5) for name, value in values.items()},
            "video_motion": round(video_motion, 5),  # what the reason compares with, to say it in another language
        })
    notes = []
    if 0 < len(clips) < FEWEST_WANTED:
        notes.append(
            f"only {len(clips)} stretch{'es' if len(clips) > 1 else ''} of {config.driving_min_s:g} s or more with a clear face "
            "and the head calmer than the video's average: a longer video, or one with a few calm pauses, gives more to choose from"
        )
    if clips and not has_silent_stretch(measures, shortest):
        notes.append(
            f"the video has no silent {config.driving_min_s:g} s with a clear face, so the driving clips hold speech: "
            f"for a better one, record {config.driving_min_s:g} to {config.driving_max_s:g} s sitting still, silent, "
            "mouth closed, looking at the camera"
        )
    return clips, notes


def scored_windows(
    measures: FrameMeasures, shortest: int, longest: int, step: int, most_motion: float
) -> list[tuple[float, int, int]]:
    """(score, start, stop) of every window of usable frames whose head motion is at most
    `most_motion`, at every whole second of length from the shortest to the longest, starting
    every `step` frames."""
    fps_frames = max(1, round(measures.fps))
    lengths = sorted({*range(shortest, longest + 1, fps_frames), longest})
    unusable = (~measures.usable).astype(np.float64)
    # the motion into the frames after a window's first: how the clip moves once it plays
    motion_after = np.nan_to_num(measures.motion[1:], nan=1.0)
    probability = measures.speech_probability.astype(np.float64)
    closed = measures.mouth_closed().astype(np.float64)
    open_eyes = measures.eyes_open().astype(np.float64)
    candidates = []
    for length in lengths:
        if length > measures.frame_count:
            break
        starts = np.arange(0, measures.frame_count - length + 1, step)
        motion = window_means(motion_after, length - 1)[starts]
        clean = (window_means(unusable, length)[starts] == 0) & (motion <= most_motion)
        steady = np.exp(-motion / MOTION_SCALE)
        quality = (
            WEIGHTS["steady"] * steady
            + WEIGHTS["silent"] * (1 - window_means(probability, length)[starts])
            + WEIGHTS["mouth_closed"] * window_means(closed, length)[starts]
            + WEIGHTS["eyes_open"] * window_means(open_eyes, length)[starts]
        )
        bonus = 1 + LENGTH_BONUS * (length - shortest) / max(1, longest - shortest)
        candidates.extend((float(q * bonus), int(s), int(s + length)) for q, s, ok in zip(quality, starts, clean) if ok)
    return candidates


def has_silent_stretch(measures: FrameMeasures, length: int) -> bool:
    """Whether any window of usable frames this long is silent: if none is, the reasons say so."""
    clean = window_means((~measures.usable).astype(np.float64), length) == 0
    silent = window_means(measures.speech.astype(np.float64), length) < SILENT_BELOW
    return bool((clean & silent).any())


def components(measures: FrameMeasures, start: int, stop: int) -> dict[str, float]:
    motion = measures.motion[start + 1 : stop]
    return {
        "duration_s": (stop - start) / measures.fps,
        "head_motion": float(np.nanmean(motion)) if motion.size else 0.0,
        "speech_share": float(measures.speech[start:stop].mean()),
        "speech_probability": float(measures.speech_probability[start:stop].mean()),
        "mouth_closed_share": float(measures.mouth_closed()[start:stop].mean()),
        "mouth_opening": float(measures.mouth[start:stop].mean()),
        "eyes_open_share": float(measures.eyes_open()[start:stop].mean()),
    }


def loop_mode(measures: FrameMeasures, faces: np.ndarray, start: int, stop: int, shortest: int) -> tuple[int, str, dict[str, float]]:
    """(stop, loop, gaps): the last frame within the final half second closest to the first in
    head position; `forward` with the clip cut there when both its position and its picture are
    close, else `pingpong` over the whole window."""
    earliest = max(start + shortest, stop - max(1, round(LOOP_SEARCH_S * measures.fps)))
    ends = range(earliest, stop + 1)
    best = min(ends, key=lambda end: (pose_gap(measures.points, start, end - 1, measures.face_width), -end))
    pose = pose_gap(measures.points, start, best - 1, measures.face_width)
    picture = picture_gap(faces, start, best - 1)
    if pose <= LOOP_POSE and picture <= LOOP_PICTURE:
        return best, "forward", {"loop_pose_gap": pose, "loop_picture_gap": picture}
    return stop, "pingpong", {
        "loop_pose_gap": pose_gap(measures.points, start, stop - 1, measures.face_width),
        "loop_picture_gap": picture_gap(faces, start, stop - 1),
    }
