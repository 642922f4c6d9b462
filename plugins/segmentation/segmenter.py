"""The person matte of one picture: mediapipe 0.10.14's selfie segmentation (legacy
`mediapipe.solutions` API), whose models ship inside the wheel and run offline on the CPU.

The general model (`model_selection=0`, 256x256 input) is used. On the seven samples both models
put the whole face inside the matte and the top corners outside it, but on five of them the general
model's edges were tighter (a third fewer pixels between alpha 0.1 and 0.9) and flickered less on
pixels whose colour did not change (by up to 45%), and the landscape model (144x256) let background
in at the sides of two speakers. It costs about twice the time: 4-6 ms a frame against 2-3 ms. The graph
keeps no state between pictures, so a picture's matte does not depend on what the model saw before.
"""

from __future__ import annotations

import os
import warnings

import cv2
import numpy as np

from plugins.video_analysis.detectors import quiet_stderr

MODEL_SELECTION = 0
MATTE_LONGEST = 256  # the matte's longer side: the model's own input size, so nothing is lost


def matte_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of the matte: the frame's aspect, the longer side at most MATTE_LONGEST."""
    scale = min(1.0, MATTE_LONGEST / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def shrink(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The frame at the matte's size; the model sees this picture, so the matte needs no resizing."""
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


class Segmenter:
    """One loaded model; a new one takes about 25 ms, so one is made per chunk of frames."""

    def __init__(self) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        with quiet_stderr(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mediapipe.python.solutions import selfie_segmentation

            self._model = selfie_segmentation.SelfieSegmentation(model_selection=MODEL_SELECTION)
            self._model.process(np.zeros((64, 64, 3), dtype=np.uint8))  # the delegate starts (and logs) on the first image

    def matte(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 alpha of the picture's size, 255 where the model is sure of a person."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # protobuf's GetPrototype deprecation, once per process
            mask = self._model.process(np.ascontiguousarray(rgb)).segmentation_mask
        return np.rint(np.clip(mask, 0.0, 1.0) * 255).astype(np.uint8)

    def close(self) -> None:
        self._model.close()

    def __enter__(self) -> Segmenter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
