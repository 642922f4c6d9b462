"""The intake check: one decoding pass (decode.py), the measures (measures.py) judged against the
preset's limits (thresholds.py), and a report a person can act on.

    {"verdict": "pass" | "fail", "preset": "draft",
     "measures": [{"name", "value", "unit", "status", "advice", "advice_code", "advice_values"}, ...]}

The advice is words a person reads (plugins/video_analysis/words.py); its code and values let the
bot and the web app say it in the person's language.

A measure that cannot be taken because another failed first (no loudness without a sound track, no
face size without a face) is left out; the measure that failed says why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from plugins.video_analysis import measures as m
from plugins.video_analysis.decode import Scan, Unreadable, scan_video
from plugins.video_analysis.thresholds import Limit, limits
from plugins.video_analysis.words import advice, row_advice

UNREADABLE = "container"  # the measure that fails when the file cannot be read at all
MB = 1024 * 1024


def measure(name: str, value: Any, unit: str, status: str = "pass", code: str = "", values: dict[str, Any] | None = None) -> dict[str, Any]:
    """A row of the report; its advice is the English text of `code` with `values`, which are kept
    beside it so that the advice can be said again in another language (words.row_advice)."""
    values = values or {}
    return {"name": name, "value": value, "unit": unit, "status": status, "advice": advice(code, values) if code else "",
            "advice_code": code, "advice_values": values}


def judged(name: str, value: float, unit: str, limit: Limit, low: str = "", high: str = "", **extra: Any) -> dict[str, Any]:
    """A measure with its status under `limit`, and the advice (a code of words.ADVICE) for the side
    it fell on. The advice may use {value}, {target} (the value to reach for a clean pass) and any `extra`."""
    status = limit.status(value)
    if status == "pass":
        return measure(name, value, unit)
    if limit.is_low(value):
        return measure(name, value, unit, status, low, {"value": value, "target": limit.low_target(), **extra})
    return measure(name, value, unit, status, high, {"value": value, "target": limit.high_target(), **extra})


def report(preset: str, measures: list[dict[str, Any]]) -> dict[str, Any]:
    verdict = "fail" if any(x["status"] == "fail" for x in measures) else "pass"
    return {"verdict": verdict, "preset": preset, "measures": measures}


def check_video(
    path: Path,
    preset: str,
    max_bytes: int,
    on_progress: Callable[[float], None] | None = None,
    language: str = "en",
) -> dict[str, Any]:
    """Checks one video file against a preset; never raises for a bad file, only reports it. The
    advice is in `language` (words.LANGUAGES); its code and values stay for any other."""
    found = _checked(Path(path), preset, max_bytes, on_progress)
    if language != "en":
        for row in found["measures"]:
            row["advice"] = row_advice(row, language)
    return found


def _checked(path: Path, preset: str, max_bytes: int, on_progress: Callable[[float], None] | None) -> dict[str, Any]:
    rules = limits(preset)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return report(preset, [measure(UNREADABLE, "missing", "", "fail", "file_missing", {"error": exc.strerror})])
    size_mb = round(size / MB, 1)
    if size > max_bytes:
        return report(preset, [measure("file_size", size_mb, "MB", "fail", "file_too_big", {"value": size_mb, "limit": max_bytes / MB})])
    sized = measure("file_size", size_mb, "MB")
    max_duration = rules["duration"].fail_above or 900
    try:
        scan = scan_video(path, max_seconds=max_duration + 5, on_progress=on_progress)
    except Unreadable as exc:
        return report(preset, [sized, measure(UNREADABLE, "unreadable", "", "fail", exc.code, exc.values)])
    return report(preset, [sized, *picture_measures(scan, rules), *sound_measures(scan, rules), *face_measures(scan, rules)])


def _container(scan: Scan) -> dict[str, Any]:
    codecs = " + ".join(c for c in (scan.video_codec, scan.audio_codec) if c)
    value = f"{scan.container.split(',')[0]}: {codecs}"
    if scan.decode_errors:
        return measure(UNREADABLE, value, "", "warning", "container_damaged", {"errors": scan.decode_errors})
    return measure(UNREADABLE, value, "")


def video_duration(scan: Scan) -> float:
    """Seconds of picture: from the first to the last decoded frame, plus one frame."""
    fps = m.frame_rate(scan.times) or scan.average_rate or 25.0
    return (scan.times[-1] - scan.times[0]) + 1 / fps if scan.times else 0.0


def picture_measures(scan: Scan, rules: dict[str, Limit]) -> list[dict[str, Any]]:
    width, height = scan.display_size
    decoded = video_duration(scan)
    declared = scan.declared_duration or decoded
    duration = declared if scan.truncated_at is not None else decoded
    out = [_container(scan)]
    if scan.truncated_at is None and declared > 0:
        completeness = round(min(100.0, decoded / declared * 100), 1)
        out.append(judged("completeness", completeness, "%", rules["completeness"], low="completeness_low", declared=declared))
    minimum = rules["duration"].fail_below or 0
    out.append(judged(
        "duration", round(duration, 1), "s", rules["duration"],
        low="duration_too_short" if duration < minimum else "duration_short", high="duration_long", minimum=minimum,
    ))
    fps = m.frame_rate(scan.times)
    variable, dropped = m.interval_stats(scan.times)
    out.append(judged("frame_rate", round(fps, 2), "fps", rules["frame_rate"], low="frame_rate_low"))
    out.append(judged("frame_rate_variation", round(variable, 1), "%", rules["frame_rate_variation"], high="frame_rate_variation_high"))
    out.append(judged("dropped_frames", round(dropped, 1), "%", rules["dropped_frames"], high="dropped_frames_high"))
    out.append(judged(
        "duplicated_frames", round(m.duplicated_percent(scan.frame_diffs), 1), "%", rules["duplicated_frames"], high="duplicated_frames_high",
    ))
    out.append(judged("resolution", min(width, height), "px", rules["resolution"], low="resolution_low", width=width, height=height))
    out.append(judged("rotation", scan.rotation, "°", rules["rotation"], high="rotation_high"))
    aspect = round(width / height, 2) if height else 0.0
    out.append(judged(
        "aspect_ratio", aspect, "w/h", rules["aspect_ratio"], low="aspect_ratio_low", high="aspect_ratio_high", width=width, height=height,
    ))
    out.append(judged(
        "frame_brightness", round(float(np.median(scan.brightness)), 1), "/255", rules["frame_brightness"],
        low="frame_brightness_low", high="frame_brightness_high",
    ))
    return out


def sound_measures(scan: Scan, rules: dict[str, Limit]) -> list[dict[str, Any]]:
    if not scan.has_audio:
        return [measure("audio_track", False, "", "fail", "audio_track_missing")]
    out = [measure("audio_track", True, "")]
    out.append(judged("audio_sample_rate", scan.sample_rate, "Hz", rules["audio_sample_rate"], low="audio_sample_rate_low"))
    level = round(m.loudness(scan.sum_squares, scan.mono_samples), 1)
    silent = level <= -90
    out.append(judged("loudness", level, "dBFS", rules["loudness"], low="loudness_silent" if silent else "loudness_low", high="loudness_high"))
    if silent:
        return out
    out.append(judged(
        "clipping", round(m.clipping_percent(scan.clipped_samples, scan.raw_samples), 2), "%", rules["clipping"], high="clipping_high",
    ))
    out.append(judged("noise_floor", round(m.noise_floor(scan.window_rms), 1), "dBFS", rules["noise_floor"], high="noise_floor_high"))
    out.append(judged("speech_share", round(m.speech_percent(scan.speech_probs), 1), "%", rules["speech_share"], low="speech_share_low"))
    picture = video_duration(scan)
    if scan.audio_end is not None and picture > 0:
        sound = scan.audio_end - (scan.audio_start or 0.0)
        out.append(judged(
            "av_duration_gap", round(abs(sound - picture), 2), "s", rules["av_duration_gap"], high="av_duration_gap_high",
            sound=sound, picture=picture,
        ))
    return out


def face_measures(scan: Scan, rules: dict[str, Limit]) -> list[dict[str, Any]]:
    examined = len(scan.faces)
    with_face = [f for f in scan.faces if f.box is not None]
    width, height = scan.display_size
    if examined == 0:
        return []
    visible = round(len(with_face) / examined * 100, 1)
    dark = float(np.median(scan.brightness)) < (rules["frame_brightness"].low_target() or 0)
    out = [judged("face_visible", visible, "%", rules["face_visible"], low="face_visible_low_dark" if dark else "face_visible_low")]
    if not with_face:
        return out
    single = round(sum(1 for f in with_face if f.count == 1) / len(with_face) * 100, 1)
    out.append(judged("single_face", single, "%", rules["single_face"], low="single_face_low"))
    boxes = [f.box for f in with_face]
    face_px = round(float(np.median([b[2] for b in boxes])))
    out.append(judged("face_size", face_px, "px", rules["face_size"], low="face_size_low"))
    share = round(face_px / width * 100, 1) if width else 0.0
    out.append(judged("face_share", share, "%", rules["face_share"], low="face_share_low", high="face_share_high"))
    cut = round(sum(m.face_cut_off(b, width, height) for b in boxes) / len(boxes) * 100, 1)
    out.append(judged("face_cut_off", cut, "%", rules["face_cut_off"], high="face_cut_off_high"))
    offset = round(float(np.median([m.face_offset(b, width, height) for b in boxes])), 1)
    out.append(judged("face_offset", offset, "%", rules["face_offset"], high="face_offset_high"))
    motion = round(m.head_motion([f.time for f in with_face], boxes), 2)
    out.append(judged("head_motion", motion, "face widths/s", rules["head_motion"], high="head_motion_high"))
    sharp = [f.sharpness for f in with_face if f.sharpness is not None]
    if sharp:
        out.append(judged("sharpness", round(float(np.median(sharp)), 1), "", rules["sharpness"], low="sharpness_low"))
    lumas = [f.face_luma for f in with_face if f.face_luma is not None]
    if lumas:
        face_luma = float(np.median(lumas))
        out.append(judged(
            "face_brightness", round(face_luma, 1), "/255", rules["face_brightness"], low="face_brightness_low", high="face_brightness_high",
        ))
        pairs = [(f.background_luma, f.face_luma) for f in with_face if f.background_luma is not None and f.face_luma is not None]
        if pairs:
            backlight = round(float(np.median([b - f for b, f in pairs])), 1)
            out.append(judged(
                "backlight", backlight, "levels", rules["backlight"], high="backlight_high", low="backlight_low", neg=-backlight,
            ))
    return out
