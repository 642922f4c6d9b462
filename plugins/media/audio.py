"""The video's sound as 16 kHz mono float32, the rate every speech model here expects.

The whole track is held (a five-minute recording is 19 MB at this rate); the pictures, which are
a thousand times larger, are streamed instead.
"""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16_000


class NoSound(Exception):
    """The file has no readable audio track."""


def read_audio(path: Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decodes and resamples the first audio track; the result starts at the video's time 0 (a
    track that starts late is padded with silence, one that starts early is cut). A file without
    pictures starts at its sound: an MP3's start time is the encoder's delay, which the decoder
    already skips. A damaged packet is heard as silence of its length, so the rest keeps its time."""
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError) as exc:
        raise NoSound(f"{Path(path).name} cannot be opened: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise NoSound(f"{Path(path).name} has no audio track")
        stream = container.streams.audio[0]
        video_start = _start_seconds(container.streams.video[0]) if container.streams.video else _start_seconds(stream)
        offset = _start_seconds(stream) - video_start
        # Channels are averaged here rather than by the resampler, whose downmix adds them at -3 dB
        # and so pushes loud stereo past full scale.
        resampler = av.AudioResampler(format="fltp", rate=rate)
        parts: list[np.ndarray] = []
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:  # a damaged packet: its time stays, as silence
                if packet.duration and packet.time_base:
                    parts.append(np.zeros(int(round(packet.duration * packet.time_base * rate)), np.float32))
                continue
            for frame in frames:
                parts.extend(out.to_ndarray().mean(axis=0) for out in resampler.resample(frame))
        parts.extend(out.to_ndarray().mean(axis=0) for out in resampler.resample(None))
    samples = np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)
    shift = int(round(offset * rate))
    if shift > 0:
        samples = np.concatenate([np.zeros(shift, np.float32), samples])
    elif shift < 0:
        samples = samples[-shift:]
    return samples


def _start_seconds(stream: av.stream.Stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """16-bit PCM mono: what every audio tool reads."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Float samples in [-1, 1] and the rate of a 16-bit PCM mono wav written by write_wav."""
    with wave.open(str(path), "rb") as source:
        if source.getsampwidth() != 2 or source.getnchannels() != 1:
            raise ValueError(f"{Path(path).name} is not 16-bit mono PCM")
        rate = source.getframerate()
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    return data.astype(np.float32) / 32768.0, rate
