"""Stretches of frames: mean of a per-frame measure over every window at once, and picking the
best stretches that do not overlap.

A proposal is a window scored on means of per-frame measures; computing each mean from a running
sum makes scoring every window of every length linear in the video's length (a five-minute video
has tens of thousands of candidate windows, each a few array reads).
"""

from __future__ import annotations

import numpy as np


def window_means(values: np.ndarray, length: int) -> np.ndarray:
    """float64[len(values) - length + 1]: the mean of values[s:s + length] for every start s
    (empty when the window is longer than the values)."""
    if length <= 0 or length > len(values):
        return np.zeros(0)
    sums = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    return (sums[length:] - sums[:-length]) / length


def pick_apart(candidates: list[tuple[float, int, int]], count: int, gap: int = 0) -> list[tuple[float, int, int]]:
    """Up to `count` of the (score, start, stop) candidates, best first, each at least `gap` frames
    away from every one picked before: the best stretch, then the best of what does not touch it."""
    picked: list[tuple[float, int, int]] = []
    for score, start, stop in sorted(candidates, key=lambda item: (-item[0], item[1], item[2])):
        if len(picked) == count:
            break
        if all(stop + gap <= other_start or other_stop + gap <= start for _, other_start, other_stop in picked):
            picked.append((score, start, stop))
    return picked


def overlaps(start: int, stop: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < other_stop and other_start < stop for other_start, other_stop in spans)


def merged(spans: list[tuple[int, int]]) -> list[list[int]]:
    """The spans sorted, touching or overlapping ones joined: [[start, stop], ...]."""
    joined: list[list[int]] = []
    for start, stop in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], stop)
        else:
            joined.append([start, stop])
    return joined
