"""One avatar, loaded once: the bundle verified (sha256 of every file), the lip-sync graph in
memory and warmed up (Whisper loaded, the first torch calls made), so that a request pays only for
its own frames. gRPC and HTTP both call this object; they only translate.

Renders are serialized: one render slot, because one render already keeps both cores busy (torch
and CTranslate2 run two threads each, x264 its own); two at once would each take twice as long
and both answers would come late. Up to MAX_WAITING requests wait in line for the slot; beyond
that a request is refused as busy at once (RESOURCE_EXHAUSTED, HTTP 429) rather than left waiting
for minutes. The request's audio is decoded and checked before it joins the line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import cv2
import numpy as np

from plugins.inference.bundle import FORMAT, Bundle, read_bundle
from plugins.inference.metrics import Metrics
from plugins.inference.speech import MAX_AUDIO_SECONDS, Speech, parse_colour, speech_file
from plugins.lipsync.graph import LipSyncGraph, load_graph
from plugins.lipsync.render import Progress, compose, model_lower_faces, render_video
from plugins.media.audio import SAMPLE_RATE
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import open_training_set
from plugins.sdk.video import video_info
from plugins.tts.speech import MAX_CHARACTERS

RENDER_SLOTS = 1
MAX_WAITING = 4
JPEG_QUALITY = 90
FRAMES_PER_CHUNK = 5  # 0.2 s at 25 fps: what a player buffers; the first chunk carries one frame
CHUNK_BYTES = 1 << 20
WARM_UP_SECONDS = 0.5


@dataclass(frozen=True)
class FrameChunk:
    """Consecutive frames (index, pts seconds, JPEG) and the sound under them, PCM16 mono."""

    frames: list[tuple[int, float, bytes]]
    pcm16: bytes
    sample_rate: int
    audio_start_seconds: float
    total_frames: int
    fps: float
    width: int
    height: int
    elapsed_seconds: float


class Slots:
    """`slots` renders at a time, `max_waiting` more in line, the rest refused."""

    def __init__(self, slots: int = RENDER_SLOTS, max_waiting: int = MAX_WAITING) -> None:
        self.slots, self.max_waiting = slots, max_waiting
        self._free = threading.Semaphore(slots)
        self._lock = threading.Lock()
        self._admitted = 0

    @contextmanager
    def taken(self) -> Iterator[None]:
        with self._lock:
            if self._admitted >= self.slots + self.max_waiting:
                raise StageFailed(
                    "busy", f"the avatar is rendering and {self.max_waiting} more requests are waiting",
                    "retry in a few seconds",
                )
            self._admitted += 1
        try:
            with self._free:
                yield
        finally:
            with self._lock:
                self._admitted -= 1


class Avatar:
    def __init__(self, bundle: Bundle, graph: LipSyncGraph, metrics: Metrics, tts_engine: str = "auto", max_seconds: float = MAX_AUDIO_SECONDS,
                 encoder: str = "speed") -> None:
        self.bundle, self.graph, self.metrics = bundle, graph, metrics
        self.tts_engine, self.max_seconds, self.encoder = tts_engine, max_seconds, encoder
        self.slots = Slots()
        self.video, self.training_set = bundle.material("video"), bundle.material("training_set")
        self.cutout = bundle.material("cutout")
        self.materials = bundle.materials
        info = video_info(self.video)
        self.dataset = open_training_set(self.training_set)
        self.fps = float(self.dataset.manifest.get("fps") or info.fps)  # as plugins.lipsync.render reads it
        self.width, self.height = info.width - info.width % 2, info.height - info.height % 2
        self.lower_faces = model_lower_faces(graph, self.training_set, self.fps)
        self.early_lower_faces = model_lower_faces(graph, self.training_set, self.fps, lead=True)

    @classmethod
    def load(cls, root: Path, metrics: Metrics, tts_engine: str = "auto", max_seconds: float = MAX_AUDIO_SECONDS, encoder: str = "speed") -> Avatar:
        """`encoder`: how answers are encoded (plugins/lipsync/render.py's ENCODERS; TWINFORGE_RENDER_ENCODER)."""
        bundle = read_bundle(root)
        avatar = cls(bundle, load_graph(bundle.model_paths), metrics, tts_engine, max_seconds, encoder)
        avatar.warm_up()
        return avatar

    def warm_up(self) -> None:
        """Half a second of silence through the graph: loads Whisper and makes torch's first calls."""
        silence = np.zeros(int(WARM_UP_SECONDS * SAMPLE_RATE), np.float32)
        self.graph.render(silence, self.dataset["faces"][:1], self.dataset["landmarks"][:1], self.fps)

    def describe(self) -> dict:
        manifest = self.bundle.manifest
        try:
            service = version("twinforge")
        except PackageNotFoundError:
            service = "unknown"
        versions = {"twinforge": service, "bundle_format": str(FORMAT), "models": ",".join(sorted(self.bundle.model_paths))}
        versions.update({key: str(manifest[key]) for key in ("source_revision", "twinforge_version") if key in manifest})
        return {
            "avatar_id": self.bundle.avatar_id,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "submission_version": int(manifest.get("submission_version") or 0),
            "round": int(manifest.get("round") or 0),
            "measures": manifest.get("measures") or {},
            "versions": versions,
            "max_audio_seconds": self.max_seconds,
            "max_text_characters": MAX_CHARACTERS,
        }

    def background(self, text: str) -> tuple[int, int, int] | None:
        colour = parse_colour(text)
        if colour is not None and self.cutout is None:
            raise StageFailed("no_cutout", "this avatar was deployed without a cut-out, so its background cannot be changed", "leave the background empty")
        return colour

    def render(self, speech: Speech, folder: Path, progress: Progress | None = None, kind: str = "render") -> dict:
        """The answer as an MP4 in `folder`; its summary (render_video's, with `path`)."""
        with self.metrics.tracked(kind):
            colour = self.background(speech.background)
            path = speech_file(speech, folder, self.tts_engine, self.max_seconds)
            with self.slots.taken():
                summary = render_video(
                    self.video, self.training_set, self.materials, path, self.lower_faces, folder / "answer.mp4",
                    cutout=self.cutout, background=colour, progress=progress, encoder=self.encoder,
                )
            self.metrics.frames.labels(kind).inc(summary["frames"])
            self.metrics.audio_seconds.labels(kind).inc(summary["audio_seconds"])
        return summary

    def stream(self, speech: Speech, folder: Path, jpeg_quality: int = 0, received: float | None = None, kind: str = "stream") -> Iterator[FrameChunk]:
        """The answer as chunks of JPEG frames with their sound, each made when asked for; the
        first chunk holds the first frame alone. `received`: perf_counter() when the request came."""
        received = time.perf_counter() if received is None else received
        quality = jpeg_quality or JPEG_QUALITY
        with self.metrics.tracked(kind):
            if not 1 <= quality <= 100:
                raise StageFailed("bad_jpeg_quality", f"JPEG quality {jpeg_quality} is outside 1..100", "send 1..100, or 0 for the default (90)")
            colour = self.background(speech.background)
            path = speech_file(speech, folder, self.tts_engine, self.max_seconds)
            with self.slots.taken():
                answer = compose(self.video, self.training_set, self.materials, path, self.early_lower_faces, self.cutout, colour)
                frames: list[tuple[int, float, bytes]] = []
                sound: list[np.ndarray] = []
                sent, size = 0, 0
                with closing(answer.frames):
                    for index, picture, samples in answer.frames:
                        jpeg = encode_jpeg(picture, quality)
                        frames.append((index, index / answer.fps, jpeg))
                        sound.append(samples)
                        size += len(jpeg)
                        if index == 0 or len(frames) >= FRAMES_PER_CHUNK or size >= CHUNK_BYTES or index == answer.count - 1:
                            elapsed = time.perf_counter() - received
                            if index == 0:
                                self.metrics.first_frame.observe(elapsed)
                            pcm = np.concatenate(sound)
                            yield FrameChunk(frames, pcm16(pcm), answer.rate, sent / answer.rate, answer.count, answer.fps, answer.width, answer.height, elapsed)
                            sent += len(pcm)
                            frames, sound, size = [], [], 0
            self.metrics.frames.labels(kind).inc(answer.count)
            self.metrics.audio_seconds.labels(kind).inc(answer.audio_seconds)


def encode_jpeg(picture: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StageFailed("jpeg_failed", "a frame could not be encoded as JPEG", "report this with the request that caused it")
    return data.tobytes()


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
