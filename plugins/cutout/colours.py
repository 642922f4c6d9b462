"""The dominant colours of the recorded background, which the bot offers to key out with one press.

A green screen, a painted wall or a door leave colour behind in hair and at the edges that the
matte alone misses; keying that colour out fixes it, and the person should not have to name it.
The pixels the matte calls background (alpha below BACKGROUND_ALPHA) of a few frames spread over
the clip are clustered by k-means in RGB; clusters within the key tolerance of a larger one are
merged into it (the shades of one lit wall are one colour, and one key takes them all out), and a
colour is offered when it holds at least MIN_SHARE of those pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from plugins.cutout.recipe import KEY_TOLERANCE

OFFERED = 3
CLUSTERS = 6  # more than offered, so that two backdrops are never one cluster; shades are merged again
BACKGROUND_ALPHA = 26  # of 255: about 10%, clearly outside the person
MIN_SHARE = 0.1  # of the background pixels
SAMPLE = 20000  # pixels clustered at most; enough for colours, and fast
ATTEMPTS = 3


def dominant_colours(pictures: list[np.ndarray], alphas: list[np.ndarray]) -> list[list[int]]:
    """Up to OFFERED [r, g, b] colours of the background of `pictures` (uint8[H, W, 3], RGB) where
    `alphas` (uint8[H, W]) are low, the largest share first; none when no background shows."""
    pixels = np.concatenate([picture[alpha < BACKGROUND_ALPHA] for picture, alpha in zip(pictures, alphas, strict=True)])
    if len(pixels) < CLUSTERS:
        return []
    step = max(1, len(pixels) // SAMPLE)
    sample = pixels[::step].astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(0)  # the same video gives the same buttons on every run
    _, labels, centres = cv2.kmeans(sample, CLUSTERS, None, criteria, ATTEMPTS, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=CLUSTERS) / len(labels)
    groups: list[tuple[np.ndarray, float]] = []  # (centre, share)
    for cluster in np.argsort(-shares):
        centre, share = centres[cluster], float(shares[cluster])
        near = next((index for index, (kept, _) in enumerate(groups) if np.linalg.norm(centre - kept) <= KEY_TOLERANCE), None)
        if near is None:
            groups.append((centre, share))
        else:
            kept, total = groups[near]
            groups[near] = ((kept * total + centre * share) / (total + share), total + share)
    groups.sort(key=lambda group: -group[1])
    return [[int(v) for v in np.clip(np.rint(centre), 0, 255)] for centre, share in groups[:OFFERED] if share >= MIN_SHARE]
