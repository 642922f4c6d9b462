"""The reports a person reads, in their language. The intake check's (docs/intake.md): each
measure with its value, pass, warning or fail, and the advice under any that is not a clean pass
(said from the report's advice codes, plugins/video_analysis/words.py); beside it a strip of frames
from the video, so the person sees what the check saw (framing, light, where the face is). The
evaluation's verdict on a round: each rule as what it means for the avatar, passed or missed (said
from the round's results, plugins/evaluation/words.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot import pictures
from bot.catalogue import FALLBACK, messages, say
from plugins.evaluation import words as verdict_words
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


def verdict_lines(results: dict[str, Any], english: list[str], language: str) -> list[str]:
    """The round's verdict in `language` for a message, each line marked passed or missed, from its
    `results`; a round measured before the evaluation kept them has only its English sentences, bulleted."""
    if results.get("verdict"):
        return verdict_words.lines(results, language)
    return [f"• {line}" for line in english]


def verdict_details(results: dict[str, Any], english: list[str], language: str) -> dict[str, Any]:
    """The same for a page, which draws each item's mark itself: {headline, items: [{status, text}]}
    (status pass, fail, unchecked or skipped; none for an older round's English sentences)."""
    if results.get("verdict"):
        return {"headline": verdict_words.headline(results, language), "items": verdict_words.items(results, language)}
    return {"headline": "", "items": [{"status": "", "text": line} for line in english]}


def adjustment(reason: str, retrained: bool, language: str, fallback: str = "") -> str:
    """What a rejection for `reason` changes, in the person's language (the host's own words are
    English and name CLI commands); `retrained`: the operator answered other words with a
    retrain. A reason the catalogue does not know is said in the host's words, `fallback`."""
    if reason == "other" and retrained:
        return say("adjustment_other_retrained", language)
    return say(f"adjustment_{reason}", language) if f"adjustment_{reason}" in messages(FALLBACK) else fallback
