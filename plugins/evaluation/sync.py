"""Sync of a video with its sound, two ways: the platform's proved measure (mouth opening against
the rise of the speech band's loudness over offsets of up to a second either way, plugins/lipsync/sync_measure.py), and the
trained sync expert's own confidence (plugins/lipsync/syncnet.py) where a model file is at hand.

The expert is scored the way the proved measure is: its mean logit over the 5-frame windows inside
speech, at every offset of the sound within a second either way; the confidence is the best mean minus the
median, so that an expert that likes every window a little does not pass for one that found the
sync. It reads crops of the training set's geometry (a render's generated crops, the real clip's
and the floor's own crops), so it is measured in the stages, not on any video.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from plugins.lipsync import data as lipdata
from plugins.lipsync import features, syncnet
from plugins.lipsync.sync_measure import articulation, correlate, max_lag

BATCH = 64


def proved_sync(opening: np.ndarray, samples: np.ndarray, fps: float, speech: np.ndarray) -> dict:
    """The sync measure of a mouth-opening track played with 16 kHz `samples` from its first frame,
    over the frames inside speech."""
    count = len(opening)
    found = correlate(opening, articulation(samples, fps, count), max_lag(fps), np.asarray(speech[:count], bool))
    return {"sync_confidence": float(found.confidence), "sync_offset": int(found.lag), "sync_best": float(found.best), "sync_frames": int(found.frames)}


def sound_rows(samples: np.ndarray) -> torch.Tensor:
    """The Whisper rows the expert hears, of 16 kHz sound: encoded once, scored for every role."""
    return torch.from_numpy(features.encode(samples))


class Expert:
    """The trained sync expert with the lower-face geometry of the generator that it judges."""

    def __init__(self, syncnet_file: Path, geometry: lipdata.Geometry) -> None:
        self.net, config = syncnet.load(syncnet_file)
        self.size = int(config["mouth_size"])
        self.geometry = geometry

    @torch.no_grad()
    def confidence(self, crops: np.ndarray, rows: torch.Tensor, fps: float, speech: np.ndarray) -> dict:
        """The expert's confidence and best offset for crops (uint8[N, S, S, 3] of the training
        set's crop box) played with the sound whose Whisper rows are `rows` (`sound_rows`); None
        when no whole window is in speech."""
        count = len(crops)
        lower = torch.from_numpy(lipdata.cut_lower(np.asarray(crops), self.geometry, self.size)).permute(0, 3, 1, 2).float() / 255.0
        starts = np.arange(max(0, count - lipdata.WINDOW + 1))
        middles = starts + lipdata.WINDOW // 2
        speaking = np.asarray(speech[:count], bool)
        starts = starts[speaking[middles]] if len(starts) else starts
        if len(starts) == 0:
            return {"expert_confidence": None, "expert_offset": None}
        mouths = torch.stack([lower[s : s + lipdata.WINDOW].flatten(0, 1) for s in starts])
        means = {}
        reach = max_lag(fps)
        for lag in range(-reach, reach + 1):
            index = torch.from_numpy(features.window_index(starts + lipdata.WINDOW // 2 - lag, fps, len(rows)))
            logits = [self.net(rows[index[i : i + BATCH]], mouths[i : i + BATCH]) for i in range(0, len(starts), BATCH)]
            means[lag] = float(torch.cat(logits).mean())
        best = max(means, key=lambda k: (means[k], -abs(k)))
        return {"expert_confidence": means[best] - float(np.median(list(means.values()))), "expert_offset": int(best)}
