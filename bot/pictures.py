"""Pictures the bot makes from a person's video: single frames and strips of frames side by side,
as JPEG for sendPhoto, and short silent clips as MP4 for sendVideo. The plugins store no
thumbnails, so the bot decodes the few frames it shows itself, seeking to each one (or to a clip's
start) rather than decoding the whole video."""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

JPEG_QUALITY = 85
CLIP_HEIGHT = 320  # a clip preview's height: small enough to send and play at once in a chat
CLIP_MOST_S = 4.0
STRIP_HEIGHT = 240  # each frame of a strip is scaled to this height
GAP_PX = 4


def frames_at(path: Path, indices: list[int]) -> list[np.ndarray]:
    """The frames at `indices` (0-based) as RGB arrays, in the order asked; an index past the end
    gives the last frame decoded, so a frame count that the container misreports costs nothing."""
    found: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        for index in sorted(set(indices)):
            wanted = start + index / rate
            container.seek(int(wanted / stream.time_base), stream=stream, backward=True, any_frame=False)
            picture = None
            for frame in container.decode(stream):
                picture = frame
                if frame.time is not None and frame.time >= wanted - 0.5 / rate:
                    break
            if picture is not None:
                found[index] = picture.to_ndarray(format="rgb24")
    if not found:
        raise ValueError(f"no frame could be decoded from {path.name}")
    last = found[max(found)]
    return [found.get(index, last) for index in indices]


def frame_count(path: Path) -> int:
    """The video's frames as its container declares them, else from its duration."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.frames:
            return stream.frames
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        seconds = float(stream.duration * stream.time_base) if stream.duration else (container.duration or 0) / av.time_base
        return max(1, round(seconds * rate))


def evenly(frames: int, count: int) -> list[int]:
    """`count` frame indices spread over the video, away from its very first and last frame."""
    return [min(frames - 1, int((i + 0.5) * frames / count)) for i in range(count)] if frames > 0 else [0]


def strip(frames: list[np.ndarray], height: int = STRIP_HEIGHT) -> np.ndarray:
    """The frames side by side at one height, a thin white gap between them."""
    scaled = [cv2.resize(f, (max(1, round(f.shape[1] * height / f.shape[0])), height), interpolation=cv2.INTER_AREA) for f in frames]
    gap = np.full((height, GAP_PX, 3), 255, np.uint8)
    parts = [part for picture in scaled for part in (picture, gap)][:-1]
    return np.concatenate(parts, axis=1)


def jpeg(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("the picture could not be encoded as JPEG")
    return data.tobytes()


def clip_preview(path: Path, start: int, stop: int, height: int = CLIP_HEIGHT) -> bytes:
    """Frames start..stop-1 (at most CLIP_MOST_S seconds of them) as a silent H.264 MP4 at
    `height`, for a person to see the clip move before choosing it."""
    with av.open(str(path)) as source:
        stream = source.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        begin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        last = min(stop, start + int(CLIP_MOST_S * float(rate)))
        source.seek(int((begin + start / float(rate)) / stream.time_base), stream=stream, backward=True, any_frame=False)
        spool = tempfile.NamedTemporaryFile(suffix=".mp4")  # faststart rewrites the file: it needs a real one
        with spool, av.open(spool.name, "w", format="mp4", options={"movflags": "+faststart"}) as target:
            encoded = None
            for frame in source.decode(stream):
                index = round(((frame.time or 0.0) - begin) * float(rate))
                if index < start:
                    continue
                if index >= last:
                    break
                picture = frame.to_ndarray(format="rgb24")
                width = max(2, round(picture.shape[1] * height / picture.shape[0]) // 2 * 2)
                if encoded is None:
                    encoded = target.add_stream("libx264", rate=Fraction(rate).limit_denominator(1001), options={"crf": "28", "preset": "veryfast"})
                    encoded.width, encoded.height, encoded.pix_fmt = width, height, "yuv420p"
                small = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
                target.mux(encoded.encode(av.VideoFrame.from_ndarray(small, format="rgb24")))
            if encoded is None:
                raise ValueError(f"no frame of {start}..{stop} could be decoded from {path.name}")
            target.mux(encoded.encode(None))
            target.close()
            return Path(spool.name).read_bytes()
