"""Sync of a video with its sound, two ways: the platform's proved measure (mouth opening against
the rise of the speech band's loudness over offsets of up to a second either way, plugins/lipsync/sync_measure.py), and the
trained sync expert's own confidence (plugins/lipsync/syncnet.py) where a model file is at hand.

The expert is scored the way the proved measure is: its mean logit over the windows of lip motion
inside speech, at every offset of the sound within a second either way; the confidence is the best
mean minus the median, so that an expert that likes every window a little does not pass for one
that found the sync. It reads the lips the face mesh tracks on the video, so any video can be
judged by it where the avatar's model file is at hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from plugins.lipsync import features, syncnet
from plugins.lipsync.sync_measure import articulation, correlate, max_lag

BATCH = 64


def proved_sync(opening: np.ndarray, samples: np.ndarray, fps: float, speech: np.ndarray) -> dict:
    """The sync measure of a mouth-opening track played with 16 kHz `samples` from its first frame,
    over the frames inside speech."""
    count = len(opening)
    found = correlate(opening, articulation(samples, fps, count), max_lag(fps), np.asarray(speech[:count], bool))
    return {"sync_confidence": float(found.confidence), "sync_offset": int(found.lag), "sync_best": float(found.best), "sync_frames": int(found.frames)}


class Expert:
    """The trained sync expert (plugins/lipsync/syncnet.py), judging the lips the face mesh tracked
    on a video."""

    def __init__(self, syncnet_file: Path) -> None:
        self.net, saved = syncnet.load(syncnet_file)
        self.window = int(saved["config"]["window"])
        self.mean = saved["mean_shape"].numpy()

    @torch.no_grad()
    def confidence(self, lips: np.ndarray, samples: np.ndarray, fps: float, speech: np.ndarray) -> dict:
        """The expert's confidence and best offset for tracked lips (measures.Track.lips: float32[N,
        40, 2] around their centre in eye distances, NaN without a face) played with 16 kHz
        `samples`; None when no whole window with a face is in speech."""
        count = len(lips)
        moving = torch.from_numpy(syncnet.motion(lips, self.mean))
        seen = np.isfinite(np.asarray(lips)).all(axis=(1, 2))
        starts = syncnet.window_starts(np.flatnonzero(seen), count, self.window)
        middles = starts + self.window // 2
        starts = starts[np.asarray(speech[:count], bool)[middles]] if len(starts) else starts
        if len(starts) == 0:
            return {"expert_confidence": None, "expert_offset": None}
        envelopes = torch.from_numpy(features.envelope(samples))
        windows = moving[torch.from_numpy(starts[:, None] + np.arange(self.window)[None])]
        means = {}
        reach = max_lag(fps)
        for lag in range(-reach, reach + 1):
            sound = syncnet.frame_envelopes(envelopes, starts + self.window // 2 - lag, self.window, fps)
            logits = [self.net(sound[i : i + BATCH], windows[i : i + BATCH]) for i in range(0, len(starts), BATCH)]
            means[lag] = float(torch.cat(logits).mean())
        best = max(means, key=lambda k: (means[k], -abs(k)))
        return {"expert_confidence": means[best] - float(np.median(list(means.values()))), "expert_offset": int(best)}
