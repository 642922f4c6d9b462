"""The submitted video as every preprocessing stage opens it. The intake check rejects unreadable
files, so a stage that cannot read its video meets a file damaged or replaced since: each stage
says so in the same words, with the same next step."""

from __future__ import annotations

from pathlib import Path

from plugins.media.frames import VideoInfo, VideoUnreadable, probe
from plugins.sdk.errors import StageFailed

UNREADABLE_VIDEO = "unreadable_video"
UNREADABLE_ADVICE = (
    "send the video again as it came from the camera (MP4, MOV, MKV or WebM); "
    "if it was cut, converted or only partly uploaded, send the original"
)


def unreadable(detail: object) -> StageFailed:
    return StageFailed(UNREADABLE_VIDEO, f"the video cannot be read: {detail}", UNREADABLE_ADVICE)


def video_info(video: Path) -> VideoInfo:
    """The video's size, rate and frame count, or the stage's failure saying it is unreadable."""
    try:
        return probe(video)
    except VideoUnreadable as exc:
        raise unreadable(exc) from exc
