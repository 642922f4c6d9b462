"""The driving clip as output frames: which recorded frame shows under each frame of the answer.

Everything but the mouth comes from the person's own recording (docs/model.md): the chosen driving
clip is played again and again for as long as the audio lasts, forward when its ends match, else
forth and back. Forth and back never shows a turning frame twice in a row, which would read as a
hitch in the head's motion.

The pictures are read at full resolution, the same frames over and over. A short clip is decoded
once and held (a 5 s clip at 512x512 is 98 MB); a clip whose frames would take more than
`memory_bytes` is streamed again at each pass instead, and its backward passes are read in blocks
that fit that budget, each block decoded forward from its keyframe and played in reverse. Memory
stays under `memory_bytes` whatever the clip's length or resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from plugins.media.frames import VideoInfo, read_frames
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import TrainingSet
from plugins.sdk.video import unreadable

LOOPS = ("forward", "pingpong")
MEMORY_BYTES = 768 * 1024**2


@dataclass(frozen=True)
class DrivingClip:
    id: str
    start: int  # inclusive, a frame number of the video and a row of the training set
    stop: int  # exclusive
    loop: str  # forward | pingpong

    @property
    def length(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class DrivingFrame:
    """One output frame's material: the recorded picture and its row of the training set."""

    number: int  # the source frame number
    picture: np.ndarray  # uint8[H, W, 3], full resolution; shared with other output frames, never write to it
    box: np.ndarray  # int64[4]: the crop box x0, y0, x1, y1 in frame pixels (may reach past the edges)
    landmarks: np.ndarray  # float32[468, 2] in crop pixels, NaN where no face was found


def chosen_clip(materials: dict) -> DrivingClip:
    """The driving clip the person chose (or the first proposed one if none was chosen)."""
    clips = materials.get("driving_clips") or []
    wanted = (materials.get("chosen") or {}).get("driving")
    picked = next((c for c in clips if c.get("id") == wanted), clips[0] if clips and not wanted else None)
    if picked is None:
        raise StageFailed(
            "no_driving_clip",
            f"the materials name no driving clip{f' {wanted!r}' if wanted else ''} to animate",
            "run the material_extraction stage again, or pick a driving clip among the proposed ones",
        )
    clip = DrivingClip(id=str(picked.get("id", "")), start=int(picked["start"]), stop=int(picked["stop"]), loop=str(picked.get("loop", "pingpong")))
    if clip.loop not in LOOPS or clip.length < 1 or clip.start < 0:
        raise StageFailed(
            "bad_driving_clip",
            f"driving clip {clip.id!r} is not playable (frames {clip.start}..{clip.stop}, loop {clip.loop!r})",
            "run the material_extraction stage again to propose valid clips",
        )
    return clip


def output_frame_count(duration_s: float, fps: float) -> int:
    """Frames of an answer lasting duration_s: the nearest whole count, so the picture ends within
    half a frame of the sound (at least one frame, so that even a click of sound shows a face)."""
    return max(1, int(round(duration_s * fps)))


def frame_order(clip: DrivingClip, count: int) -> np.ndarray:
    """int64[count]: the source frame number of each output frame. Forward: start..stop-1, again
    and again. Pingpong: start..stop-1, then back down to start+1, and so on, each turning frame
    shown once (a period of 2 * (length - 1) frames)."""
    steps = np.arange(count, dtype=np.int64)
    if clip.loop == "forward" or clip.length < 3:
        return clip.start + steps % clip.length
    period = 2 * (clip.length - 1)
    phase = steps % period
    return clip.start + np.where(phase < clip.length, phase, period - phase)


def runs(order: np.ndarray) -> list[tuple[int, int, int]]:
    """(first, last, step) of each stretch of the order that moves by +1 (step 1) or -1 (step -1)
    or stands alone (step 1): the reads that give the order."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(order):
        j = i
        step = int(order[i + 1] - order[i]) if i + 1 < len(order) else 1
        if step not in (1, -1):
            step = 1
        else:
            while j + 1 < len(order) and order[j + 1] - order[j] == step:
                j += 1
        out.append((int(order[i]), int(order[j]), step))
        i = j + 1
    return out


def exact_frames(video: Path, first: int, stop: int) -> Iterator[np.ndarray]:
    """One picture per number first..stop-1: a number the stream skips (variable frame rate)
    repeats the picture before it, or takes the next one at the very start."""
    if stop <= first:
        return
    wanted, previous = first, None
    try:
        for number, picture in read_frames(video, first, stop):
            if number < wanted:
                continue
            while wanted < number:
                yield previous if previous is not None else picture
                wanted += 1
            yield picture
            previous, wanted = picture, wanted + 1
    except av.error.FFmpegError as exc:
        raise unreadable(f"{Path(video).name} stops decoding at frame {wanted}: {exc}") from exc
    if previous is None:
        raise unreadable(f"frame {first} of {Path(video).name} cannot be decoded")
    while wanted < stop:
        yield previous
        wanted += 1


def driving_pictures(video: Path, info: VideoInfo, clip: DrivingClip, order: np.ndarray, memory_bytes: int = MEMORY_BYTES) -> Iterator[np.ndarray]:
    """The full-resolution picture of each output frame, in order, within memory_bytes."""
    frame_bytes = info.width * info.height * 3
    if clip.length * frame_bytes <= memory_bytes:
        held = list(exact_frames(video, clip.start, clip.stop))
        for number in order:
            yield held[int(number) - clip.start]
        return
    block = max(1, memory_bytes // frame_bytes)
    for first, last, step in runs(order):
        if step == 1:
            yield from exact_frames(video, first, last + 1)
            continue
        top = first + 1
        while top > last:
            bottom = max(last, top - block)
            yield from reversed(list(exact_frames(video, bottom, top)))
            top = bottom


def driving_frames(
    video: Path, info: VideoInfo, training_set: TrainingSet, clip: DrivingClip, order: np.ndarray, memory_bytes: int = MEMORY_BYTES
) -> Iterator[DrivingFrame]:
    """Each output frame's picture with its training-set rows (crop box, landmarks)."""
    check_clip(info, training_set, clip)
    boxes, landmarks = training_set["boxes"], training_set["landmarks"]
    for number, picture in zip(order, driving_pictures(video, info, clip, order, memory_bytes)):
        n = int(number)
        yield DrivingFrame(number=n, picture=picture, box=boxes[n].astype(np.int64), landmarks=np.asarray(landmarks[n]))



def check_clip(info: VideoInfo, training_set: TrainingSet, clip: DrivingClip) -> None:
    """Refuses a clip that reaches past the video or its training set."""
    if clip.stop > training_set.frame_count or clip.stop > info.frame_count:
        raise StageFailed(
            "driving_clip_outside_video",
            f"driving clip {clip.id!r} ends at frame {clip.stop}, past the video's {min(training_set.frame_count, info.frame_count)} frames",
            "run material_extraction again on this submission, so that materials and training set describe the same video",
        )
