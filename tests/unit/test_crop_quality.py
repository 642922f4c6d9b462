"""Which frames of a training set are flagged, on hand-made tracks where the answer is known."""

from __future__ import annotations

import numpy as np

from plugins.crop.quality import quality_flags
from plugins.sdk.training_set import QUALITY_FLAGS


def test_a_face_reaching_past_the_frame_is_flagged_but_a_wide_crop_margin_is_not() -> None:
    frames, width, height = 4, 100, 80
    mesh = np.zeros((frames, 468, 3), np.float32)
    mesh[:, :, 0] = np.linspace(30, 70, 468)  # a face from x=30 to 70, y=20 to 60
    mesh[:, :, 1] = np.linspace(20, 60, 468)
    mesh[2, :, 0] += 40  # frame 2: the face reaches x=110, past the right edge
    found = np.array([True, True, True, False])
    crop_boxes = np.tile(np.array([[-10, -20, 110, 100]], np.float32), (frames, 1))  # margin past every edge
    flags = quality_flags(found, mesh, crop_boxes, np.ones(frames, np.float32), width, height, 25.0)
    assert (flags & QUALITY_FLAGS["partly_outside"]).nonzero()[0].tolist() == [2]
    assert flags[3] == QUALITY_FLAGS["no_face"]
