"""Every measure of one video played with one sound, and of the files `twinforge evaluate` is given."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from plugins.lipsync.sync_measure import speech_frames
from plugins.evaluation import measures
from plugins.evaluation.sync import proved_sync
from plugins.media.audio import NoSound, read_audio
from plugins.media.frames import probe, read_frames


def measure(video: measures.Track, samples: np.ndarray, fps: float, speech: np.ndarray, real: measures.Track | None) -> dict:
    """The sync and quality measures of a tracked video with 16 kHz `samples` from its first
    frame; those against the real video only when `real` is given."""
    return {**proved_sync(video.opening, samples, fps, speech), **measures.quality(video, speech, real)}


def frames_of(path: Path) -> Iterable[np.ndarray]:
    info = probe(Path(path))
    return (rgb for _, rgb in read_frames(Path(path), 0, info.frame_count))


def measure_files(video: Path, audio: Path | None = None, reference: Path | None = None, floor: Path | None = None) -> list[dict]:
    """One clip's roles for the report: the video (`render`) with `audio` or its own sound, and,
    when given, the real recording (`ceiling`, with its own sound or else the same) and a floor
    video (`floor`, e.g. `twinforge render --floor`) under the same sound."""
    samples = read_audio(Path(audio or video))
    fps = probe(Path(video)).fps
    track = measures.track(frames_of(video))
    speech = speech_frames(samples, fps, len(track.lips))
    real = measures.track(frames_of(reference)) if reference is not None else None
    clip: dict = {"id": Path(video).stem, "start": 0, "stop": len(track.lips), "render": measure(track, samples, fps, speech, real)}
    if real is not None:
        own = _own_sound(reference, samples)
        clip["ceiling"] = measure(real, own, fps, speech_frames(own, fps, len(real.lips)), real)
    if floor is not None:
        clip["floor"] = measure(measures.track(frames_of(floor)), samples, fps, speech, real)
    return [clip]


def _own_sound(path: Path, fallback: np.ndarray) -> np.ndarray:
    try:
        return read_audio(Path(path))
    except NoSound:
        return fallback
