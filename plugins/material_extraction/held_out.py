"""Held-out test clips: stretches of speech that training never sees, on which acceptance measures
lip sync against the recorded mouth.

How much to hold out is a trade: every held-out second is lost to training, yet a sync measure on a
few seconds cannot tell a synced mouth from chance. So the clips add up to `test_share` of the
video but never less than `test_min_s` (10 s), and never more than `test_max_share` (20 %); a video
too short for both gets the 20 % and says so. The video is cut into as many equal parts as there
are clips and each clip is the part's most spoken stretch with a face in every frame, so the clips
spread over the recording (light, pose and voice drift over minutes) instead of bunching where
the speech is densest. Stretches over the chosen driving clip or cover are taken only when nothing
else fits, so that those stay available to training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plugins.material_extraction.config import Config
from plugins.material_extraction.measures import FrameMeasures
from plugins.material_extraction.windows import overlaps, window_means

MIN_SPEECH_SHARE = 0.5  # a test clip with less speech than this tests too little lip sync
SHORTEST_CLIP_S = 1.0  # a sync measure needs at least this much


def held_out_seconds(duration_s: float, config: Config) -> float:
    """Seconds of the video to hold out in all."""
    return min(max(config.test_min_s, config.test_share * duration_s), config.test_max_share * duration_s)


def propose_tests(measures: FrameMeasures, config: Config, keep: list[tuple[int, int]]) -> tuple[list[dict[str, Any]], list[str]]:
    """(clips, notes): the test clips in time order, and what a person should know about them
    (a video too short for a reliable test, a part of it without usable speech). `keep` are the
    spans better left to training (the chosen driving clip and cover)."""
    count_frames, fps = measures.frame_count, measures.fps
    duration = count_frames / fps
    total = held_out_seconds(duration, config)
    count = max(1, round(total / config.test_clip_s))
    length = min(count_frames, max(round(SHORTEST_CLIP_S * fps), int(total * fps / count)))
    notes = []
    if total < config.test_min_s:
        notes.append(
            f"the video is {duration:.0f} s long, so only {total:.1f} s ({100 * config.test_max_share:.0f} %) of your own speech is "
            f"held out to test the avatar: under {config.test_min_s:g} s cannot tell lip sync from chance, so it is used for "
            "how the mouth looks and moves, and lip sync is tested on the unseen voices alone; a video of "
            f"{config.test_min_s / config.test_max_share:.0f} s or more tests it on your own voice too"
        )
    no_face = (~measures.has_face).astype(np.float64)
    speech = measures.speech.astype(np.float64)
    bounds = np.linspace(0, count_frames, count + 1).astype(int)
    clips = []
    for first, last in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        span = max(last - first, length)
        first = min(first, count_frames - span)
        best = best_window(no_face[first : first + span], speech[first : first + span], length, first, keep)
        if best is None:
            notes.append(
                f"no {length / fps:.1f} s stretch of speech with the face in view between {first / fps:.0f} s "
                f"and {(first + span) / fps:.0f} s, so no test clip there"
            )
            continue
        start, share = best
        clips.append({
            "id": f"t{len(clips) + 1}", "start": start, "stop": start + length, "speech_share": round(share, 4),
            "reason": f"{length / fps:.1f} s with speech in {100 * share:.0f} % of it and the face in view throughout, "
            f"held out of training for the lip-sync test ({total:.1f} s in all, {100 * total / duration:.0f} % of the video"
            + (f"; too short a video for {config.test_min_s:g} s, see the notes)" if total < config.test_min_s else ")"),
        })
    return clips, notes


def best_window(
    no_face: np.ndarray, speech: np.ndarray, length: int, offset: int, keep: list[tuple[int, int]]
) -> tuple[int, float] | None:
    """(start, speech share) of the most spoken window with a face in every frame, one not over
    `keep` preferred; None when no window has the face throughout and enough speech."""
    shares = window_means(speech, length)
    valid = (window_means(no_face, length) == 0) & (shares >= MIN_SPEECH_SHARE)
    if not valid.any():
        return None
    starts = np.flatnonzero(valid)
    spared = np.array([not overlaps(offset + s, offset + s + length, keep) for s in starts])
    ranked = shares[starts] + spared  # any spared window outranks any that is not
    chosen = int(starts[int(np.argmax(ranked))])
    return int(offset + chosen), float(shares[chosen])
