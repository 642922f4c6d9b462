"""The objects touching the person that the bot offers to keep, such as a desk, a guitar, a chair.

The segmentation knows only the person; an object the person leans on or holds is cut away with
the background. Such an object is a patch of one colour, outside the person, that shares a border
with the person: the not-person part of the cover frame is split into colour-connected patches (the
same region a tap on it selects), and the patches touching the person's outline that are neither
specks nor the whole backdrop are offered, the longest shared border first.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from plugins.cutout.trimap import SURE_BACKGROUND, colour_region, disk

MIN_AREA = 0.005  # of the frame: smaller patches are specks
MAX_AREA = 0.3  # of the frame: larger ones are the backdrop itself
MIN_CONTACT = 0.03  # of the person's outline the patch must share
SEED_STEP = 8  # working pixels between the seeds that split the background into patches
OFFERED = 5


def offered_regions(image: np.ndarray, coarse: np.ndarray, scale: float) -> list[dict[str, Any]]:
    """[{id, point, box, area, contact}] in full-frame pixels (`scale` takes full-frame pixels to
    the working size of `image` and `coarse`); `point` is a pixel of the patch to pass back in a
    region edit."""
    outside = coarse < SURE_BACKGROUND
    person = ~outside
    outline = cv2.dilate(person.astype(np.uint8), disk(2)).astype(bool) & outside
    outline_length = max(1, int(outline.sum()))
    taken = np.zeros(outside.shape, bool)
    found = []
    height, width = outside.shape
    for y in range(SEED_STEP // 2, height, SEED_STEP):
        for x in range(SEED_STEP // 2, width, SEED_STEP):
            if not outside[y, x] or taken[y, x]:
                continue
            patch = colour_region(image, (x, y)) & outside & ~taken
            taken |= patch
            area = patch.mean()
            contact = (patch & outline).sum() / outline_length
            if MIN_AREA <= area <= MAX_AREA and contact >= MIN_CONTACT:
                found.append((contact, area, patch, (x, y)))
    found.sort(key=lambda item: -item[0])
    offered = []
    for number, (contact, area, patch, seed) in enumerate(found[:OFFERED], start=1):
        ys, xs = np.nonzero(patch)
        offered.append(
            {
                "id": f"r{number}",
                "point": [round(seed[0] / scale, 1), round(seed[1] / scale, 1)],
                "box": [round(float(v) / scale, 1) for v in (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)],
                "area": round(float(area), 4),
                "contact": round(float(contact), 4),
            }
        )
    return offered
