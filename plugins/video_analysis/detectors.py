"""The two models the intake check runs, both shipped inside their wheels and run offline on the CPU:

- faces: mediapipe 0.10.14's short-range face detector (legacy `mediapipe.solutions` API);
- voice activity: silero's VAD, the "sequence" ONNX export bundled in the silero-vad package, run by
  onnxruntime a block of frames at a time. Only the model file is taken from the package: importing
  `silero_vad` itself would import torch, which the check does not need.

Loading a model takes a moment, so loaded detectors are pooled per process and reused by later runs.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugins.video_analysis.thresholds import FACE_MIN_CONFIDENCE

VAD_RATE = 16000
VAD_FRAME = 512  # samples per probability: 32 ms
VAD_CONTEXT = 64  # samples of the previous frame the model sees before each frame
VAD_MODEL = "silero_vad_16k_sequence.onnx"
VAD_BLOCK_FRAMES = 512  # frames per model call (about 16 s)


@dataclass(frozen=True)
class Face:
    """A detected face in relative coordinates of the (upright) image; may reach beyond [0, 1]."""

    x: float
    y: float
    width: float
    height: float
    score: float


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silences the C++ start-up chatter of mediapipe and TensorFlow Lite (written straight to file
    descriptor 2, past Python's logging) while a model loads."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class FaceDetector:
    def __init__(self) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        with quiet_stderr(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mediapipe.python.solutions import face_detection

            self._model = face_detection.FaceDetection(model_selection=0, min_detection_confidence=FACE_MIN_CONFIDENCE)
            self._model.process(np.zeros((64, 64, 3), dtype=np.uint8))  # the delegate starts (and logs) on the first image

    def detect(self, rgb: np.ndarray) -> list[Face]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # protobuf's GetPrototype deprecation, once per process
            result = self._model.process(np.ascontiguousarray(rgb))
        faces = []
        for detection in result.detections or ():
            box = detection.location_data.relative_bounding_box
            faces.append(Face(box.xmin, box.ymin, box.width, box.height, float(detection.score[0])))
        return faces

    def close(self) -> None:
        self._model.close()


def vad_model_path() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the silero-vad package is not installed: run scripts/setup")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / VAD_MODEL
    if not path.is_file():
        raise RuntimeError(f"silero-vad ships no {VAD_MODEL} at {path}: install silero-vad 6.2")
    return path


class VoiceActivity:
    """Speech probability per 32 ms of 16 kHz mono audio, fed in chunks of any length (streaming: the
    model's state and the context samples carry over from one chunk to the next)."""

    def __init__(self) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(vad_model_path()), sess_options=options, providers=["CPUExecutionProvider"])
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(VAD_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities of every complete frame now available; a partial frame waits for more."""
        audio = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).reshape(-1)])
        whole = audio.size // VAD_FRAME * VAD_FRAME
        self._pending = audio[whole:].copy()
        return self._run(audio[:whole])

    def finish(self) -> np.ndarray:
        """The last partial frame, padded with silence."""
        if self._pending.size == 0:
            return np.zeros(0, dtype=np.float32)
        frame = np.zeros(VAD_FRAME, dtype=np.float32)
        frame[: self._pending.size] = self._pending
        self._pending = np.zeros(0, dtype=np.float32)
        return self._run(frame)

    def _run(self, audio: np.ndarray) -> np.ndarray:
        if audio.size == 0:
            return np.zeros(0, dtype=np.float32)
        frames = audio.reshape(-1, VAD_FRAME)
        out = []
        for first in range(0, len(frames), VAD_BLOCK_FRAMES):
            block = frames[first : first + VAD_BLOCK_FRAMES]
            contexts = np.empty((len(block), VAD_CONTEXT), dtype=np.float32)
            contexts[0] = self._context
            contexts[1:] = block[:-1, -VAD_CONTEXT:]
            self._context = block[-1, -VAD_CONTEXT:].copy()
            probs, self._h, self._c = self._session.run(
                ["speech_probs", "hn", "cn"], {"input": np.concatenate([contexts, block], axis=1), "h": self._h, "c": self._c}
            )
            out.append(np.asarray(probs, dtype=np.float32).reshape(-1))
        return np.concatenate(out)


class _Pool:
    """Loaded detectors kept for the next run; one run holds a pair at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[tuple[FaceDetector, VoiceActivity]] = []

    @contextmanager
    def acquire(self) -> Iterator[tuple[FaceDetector, VoiceActivity]]:
        with self._lock:
            pair = self._free.pop() if self._free else None
        if pair is None:
            pair = (FaceDetector(), VoiceActivity())
        pair[1].reset()
        try:
            yield pair
        finally:
            with self._lock:
                self._free.append(pair)


detectors = _Pool()
