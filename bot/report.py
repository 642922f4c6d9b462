"""The intake check's report (docs/intake.md) as a message in the person's language: each measure
with its value, pass, warning or fail, and the advice under any that is not a clean pass (said
from the report's advice codes, plugins/video_analysis/words.py); beside it a strip of frames
from the video, so the person sees what the check saw (framing, light, where the face is)."""

from __future__ import annotations

from pathlib import Path

from bot import pictures
from bot.catalogue import say
from plugins.video_analysis import words

MARKS = {"pass": "✅", "warning": "⚠️", "fail": "❌"}
STRIP_FRAMES = 5


def intake_report(report: dict, language: str) -> str:
    passed = report.get("verdict") == "pass"
    lines = [say("report_pass" if passed else "report_fail", language)]
    for measure in report.get("measures", []):
        lines.append(say("report_line", language, mark=MARKS.get(measure.get("status"), "•"), name=words.measure_name(measure["name"], language),
                         value=words.value_text(measure, language)))
        if measure.get("status") != "pass" and measure.get("advice"):
            lines.append(say("report_advice", language, advice=words.row_advice(measure, language)))
    lines.append("")
    lines.append(say("report_next_pass" if passed else "report_next_fail", language))
    return "\n".join(lines)


def thumbnails(video: Path) -> bytes:
    """A JPEG strip of frames spread over the video; ValueError or av.FFmpegError when it cannot be decoded."""
    return pictures.jpeg(pictures.strip(pictures.frames_at(video, pictures.evenly(pictures.frame_count(video), STRIP_FRAMES))))
