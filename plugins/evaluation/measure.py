"""Every measure of one video played with one sound, and of the files `twinforge evaluate` is given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from plugins.evaluation import measures
from plugins.evaluation.sync import proved_sync
from plugins.lipsync.sync_measure import speech_frames
from plugins.media.audio import SAMPLE_RATE, NoSound, read_audio
from plugins.media.frames import VideoUnreadable, probe, read_frames

MIN_SECONDS = 1.0  # less than this in common cannot be measured at all
FPS_TOLERANCE = 0.01


class BadInput(ValueError):
    """The files cannot be measured together; the message says why and what to give instead."""


def measure(video: measures.Track, samples: np.ndarray, fps: float, speech: np.ndarray, real: measures.Track | None) -> dict:
    """The sync and quality measures of a tracked video with 16 kHz `samples` from its first
    frame; those against the real video only when `real` is given."""
    return {**proved_sync(video.opening, samples, fps, speech), **measures.quality(video, speech, real)}


def frames_of(path: Path) -> Iterator[np.ndarray]:
    """Every frame of the video, upright RGB; a file that stops decoding part way ends there."""
    try:
        for _, rgb in read_frames(Path(path), 0, None):
            yield rgb
    except av.error.FFmpegError:
        return


def tracked(path: Path, role: str) -> tuple[measures.Track, float]:
    """The video's track and frame rate, or BadInput in words."""
    try:
        fps = probe(Path(path)).fps
        track = measures.track(frames_of(path))
    except VideoUnreadable as exc:
        raise BadInput(f"the {role} {Path(path).name} cannot be read as a video ({exc}): pass an MP4, MOV, MKV or WebM video") from exc
    if len(track.lips) == 0:
        raise BadInput(f"no frame of the {role} {Path(path).name} can be decoded: pass the whole file again")
    return track, fps


def sound(path: Path, role: str, hint: str) -> np.ndarray:
    try:
        return read_audio(Path(path))
    except NoSound as exc:
        raise BadInput(f"{exc}: {hint}") from exc


def cut(track: measures.Track, count: int) -> measures.Track:
    return measures.Track(track.lips[:count], track.mouths[:count], track.sharp[:count])


def measure_files(video: Path, audio: Path | None = None, reference: Path | None = None, floor: Path | None = None) -> tuple[list[dict], list[dict]]:
    """One clip's roles for the report and notes for the person (each a code with its values,
    said by plugins/evaluation/words.py `note`): the video (`render`) with
    `audio` or its own sound, and, when given, the real recording (`ceiling`, with its own sound or
    else the same) and a floor video (`floor`, e.g. `twinforge render --floor`) under the same
    sound. Inputs of different lengths are measured over the span they have in common (a note
    says so); different frame rates, or less than a second in common, are refused (BadInput)."""
    track, fps = tracked(video, "video")
    samples = sound(audio or video, "sound", "pass the sound it is played with as --audio")
    others = {role: tracked(path, role) for role, path in (("reference", reference), ("floor", floor)) if path is not None}
    for role, (_, their_fps) in others.items():
        if abs(their_fps - fps) > FPS_TOLERANCE * fps:
            raise BadInput(f"the {role} plays at {their_fps:g} frames a second and the video at {fps:g}: "
                           f"measure videos of the same frame rate (re-encode the {role} at {fps:g} fps)")
    lengths = {"video": len(track.lips), "sound": int(len(samples) / SAMPLE_RATE * fps)}
    lengths.update({role: len(found.lips) for role, (found, _) in others.items()})
    common = min(lengths.values())
    if common < MIN_SECONDS * fps:
        shortest = min(lengths, key=lengths.get)
        raise BadInput(f"the {shortest} lasts {lengths[shortest] / fps:.2f} s, so the inputs have under {MIN_SECONDS:g} s in common: "
                       "give a video, sound, reference and floor of the same speech, a second or more long")
    notes = []
    if len(set(lengths.values())) > 1:
        notes.append({"code": "lengths", "lengths": {role: count / fps for role, count in lengths.items()}, "common": common / fps})
    samples = samples[: int(round(common / fps * SAMPLE_RATE))]
    track = cut(track, common)
    speech = speech_frames(samples, fps, common)
    real = cut(others["reference"][0], common) if "reference" in others else None
    clip: dict = {"id": Path(video).stem, "kind": "own", "seconds": common / fps, "start": 0, "stop": common,
                  "render": measure(track, samples, fps, speech, real)}
    if real is not None:
        own = _own_sound(reference, samples)[: len(samples)]
        own = np.pad(own, (0, len(samples) - len(own)))
        clip["ceiling"] = measure(real, own, fps, speech_frames(own, fps, common), real)
    if "floor" in others:
        clip["floor"] = measure(cut(others["floor"][0], common), samples, fps, speech, real)
    return [clip], notes


def _own_sound(path: Path, fallback: np.ndarray) -> np.ndarray:
    try:
        return read_audio(Path(path))
    except NoSound:
        return fallback

