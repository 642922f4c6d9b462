"""Frames read from any frame on are the frames of a read from the start; the sound starts at time 0."""

from __future__ import annotations

import numpy as np

from plugins.media.audio import SAMPLE_RATE, read_audio, read_wav, write_wav
from plugins.media.frames import probe, read_frames
from tests.fixtures.services import require_samples


def test_reading_from_a_frame_matches_reading_from_the_start() -> None:
    video = require_samples() / "congress_60s_256.mp4"
    info = probe(video)
    assert (info.width, info.height, info.fps) == (256, 256, 25.0)
    assert info.frame_count == 1499
    start = 1010  # not a keyframe: the frames before it are decoded and dropped
    from_start = [frame for number, frame in read_frames(video, 0, start + 5) if number >= start]
    seeked = list(read_frames(video, start, start + 5))
    assert [number for number, _ in seeked] == list(range(start, start + 5))
    assert all(np.array_equal(a, b) for a, (_, b) in zip(from_start, seeked, strict=True))


def test_the_sound_is_16k_mono_for_the_whole_video(tmp_path) -> None:
    video = require_samples() / "congress_60s_256.mp4"
    sound = read_audio(video)
    assert abs(sound.size / SAMPLE_RATE - probe(video).duration) < 0.1
    write_wav(tmp_path / "a.wav", sound)
    back, rate = read_wav(tmp_path / "a.wav")
    assert rate == SAMPLE_RATE and back.size == sound.size
    assert np.abs(back - np.clip(sound, -1, 1)).max() < 1e-3
