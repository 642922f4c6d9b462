"""The video's frames as upright RGB arrays, streamed from any frame on.

Preprocessing works frame by frame and resumes mid-video after a crash, so frames are numbered
from 0 in presentation order at the stream's average rate, and reading can start at any number:
the container seeks to the keyframe before it and the frames before the start are decoded and
dropped. Only one frame is held at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from plugins.video_analysis.decode import frame_rotation, stream_rotation, upright


class VideoUnreadable(Exception):
    """The video cannot be read for preprocessing (the intake check normally rejects such files)."""


@dataclass(frozen=True)
class VideoInfo:
    width: int  # upright (as shown), in pixels
    height: int
    fps: float
    frame_count: int
    rotation: int  # counter-clockwise quarter turns applied to every stored frame, in degrees

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError) as exc:
        raise VideoUnreadable(f"{Path(path).name} cannot be opened as a video: {exc}") from exc


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise VideoUnreadable(f"{Path(path).name} has no video track")
    return container.streams.video[0]


def probe(path: Path) -> VideoInfo:
    """Size, rate and the exact frame count (counted from the packets when the container does not
    say, which costs a demux but no decoding)."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        count = int(stream.frames or 0)
        if count <= 0:
            count = sum(1 for packet in container.demux(stream) if packet.size)
        rotation = stream_rotation(stream)
        container.seek(0)
        first = next(container.decode(stream), None)
        if first is None:
            raise VideoUnreadable(f"no frame of {Path(path).name} can be decoded")
        rotation = frame_rotation(first) or rotation
        width, height = first.width, first.height
    if rotation % 180:
        width, height = height, width
    return VideoInfo(width=width, height=height, fps=fps, frame_count=count, rotation=rotation)


def read_frames(path: Path, start: int = 0, stop: int | None = None, threads: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(frame number, upright RGB uint8 array) for frames start..stop-1."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO" if threads > 1 else "SLICE"
        stream.codec_context.thread_count = threads
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        time_base = float(stream.time_base or 1 / fps)
        origin = stream.start_time or 0
        rotation = stream_rotation(stream)
        if start > 0:
            container.seek(origin + int(start / fps / time_base), stream=stream, backward=True, any_frame=False)
        number = -1
        for frame in container.decode(stream):
            # The time decides the number; a frame without one, or one that would repeat a number
            # (variable frame rate), takes the next.
            timed = int(round((frame.pts - origin) * time_base * fps)) if frame.pts is not None else -1
            number = timed if timed > number else number + 1
            if number < start:
                continue
            if stop is not None and number >= stop:
                return
            turn = frame_rotation(frame) or rotation
            yield number, np.ascontiguousarray(upright(frame.to_ndarray(format="rgb24"), turn))
