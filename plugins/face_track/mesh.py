"""The face mesh of each frame of a chunk, with mediapipe 0.10.14's FaceMesh (468 points, the
legacy `mediapipe.solutions` API, model shipped in the wheel, run on the CPU).

Within a chunk the mesh is tracked (static_image_mode=False): the face detector runs only when no
face is being tracked, and a face whose tracking fails is detected afresh on the next frame. Each
chunk starts a new FaceMesh, so a chunk's rows do not depend on the chunks before it and a resumed
run equals an uninterrupted one.

Frames go in at full resolution: mediapipe cuts the face region out and resizes it itself, and its
time per frame hardly grows with the frame (measured 3.8 ms at 512x512, 4.4 ms at 1080x1080),
while a downscale first would cost a resize and lose landmark precision.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable

import numpy as np

from plugins.video_analysis.detectors import quiet_stderr

POINTS = 468
MIN_DETECTION_CONFIDENCE = 0.5
MIN_TRACKING_CONFIDENCE = 0.5


def new_mesh():
    """A fresh tracker; its start-up chatter on stderr (the delegate, on the first image) is silenced."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    with quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mediapipe.python.solutions import face_mesh

        mesh = face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=1,
            refine_landmarks=False,
            min_detection_confidence=MIN_DETECTION_CONFIDENCE,
            min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
        )
        mesh.process(np.zeros((64, 64, 3), dtype=np.uint8))  # no face: the tracker starts empty
    return mesh


def mesh_points(mesh, rgb: np.ndarray) -> np.ndarray | None:
    """The 468 points in frame pixels (z in the scale of x), or None when no face is seen."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # protobuf's GetPrototype deprecation
        result = mesh.process(rgb)
    if not result.multi_face_landmarks:
        return None
    height, width = rgb.shape[:2]
    points = np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], dtype=np.float32)
    return points * np.array([width, height, width], dtype=np.float32)


def track_chunk(
    frames: Iterable[tuple[int, np.ndarray]], first: int, stop: int, on_frame: Callable[[int], None]
) -> dict[str, np.ndarray]:
    """Rows first..stop-1 of `found`, `landmarks` and `redetected`. A frame without a face, or one
    the video lacks, stays not found with NaN points: marked, never guessed. `redetected` marks a
    face found with no face tracked in the frame before (the chunk's first frame included)."""
    count = stop - first
    found = np.zeros(count, dtype=bool)
    landmarks = np.full((count, POINTS, 3), np.nan, dtype=np.float32)
    redetected = np.zeros(count, dtype=bool)
    mesh = new_mesh()
    try:
        for number, rgb in frames:
            row = number - first
            points = mesh_points(mesh, rgb)
            if points is not None:
                found[row] = True
                landmarks[row] = points
                redetected[row] = row == 0 or not found[row - 1]
            on_frame(number)
    finally:
        mesh.close()
    return {"found": found, "landmarks": landmarks, "redetected": redetected}
