"""The intake check's report (docs/intake.md) as a message: each measure with its value, pass,
warning or fail, and the advice under any that is not a clean pass; beside it a strip of frames
from the video, so the person sees what the check saw (framing, light, where the face is)."""

from __future__ import annotations

from pathlib import Path

from bot import pictures
from bot.catalogue import say

MARKS = {"pass": "✅", "warning": "⚠️", "fail": "❌"}
STRIP_FRAMES = 5


def value_text(measure: dict) -> str:
    value = measure.get("value")
    if isinstance(value, bool):
        return "present" if value else "missing"
    unit = measure.get("unit") or ""
    return f"{value} {unit}".strip()


def intake_report(report: dict, language: str) -> str:
    passed = report.get("verdict") == "pass"
    lines = [say("report_pass" if passed else "report_fail", language, preset=report.get("preset", ""))]
    for measure in report.get("measures", []):
        lines.append(say("report_line", language, mark=MARKS.get(measure.get("status"), "•"), name=measure["name"].replace("_", " "),
                         value=value_text(measure)))
        if measure.get("status") != "pass" and measure.get("advice"):
            lines.append(say("report_advice", language, advice=measure["advice"]))
    lines.append("")
    lines.append(say("report_next_pass" if passed else "report_next_fail", language))
    return "\n".join(lines)


def thumbnails(video: Path) -> bytes:
    """A JPEG strip of frames spread over the video; ValueError or av.FFmpegError when it cannot be decoded."""
    return pictures.jpeg(pictures.strip(pictures.frames_at(video, pictures.evenly(pictures.frame_count(video), STRIP_FRAMES))))
