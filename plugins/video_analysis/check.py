"""The intake check: one decoding pass (decode.py), the measures (measures.py) judged against the
preset's limits (thresholds.py), and a report a person can act on.

    {"verdict": "pass" | "fail", "preset": "draft",
     "measures": [{"name", "value", "unit", "status", "advice"}, ...]}

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

UNREADABLE = "container"  # the measure that fails when the file cannot be read at all
MB = 1024 * 1024


def measure(name: str, value: Any, unit: str, status: str = "pass", advice: str = "") -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "status": status, "advice": advice}


def judged(name: str, value: float, unit: str, limit: Limit, low: str = "", high: str = "", **extra: Any) -> dict[str, Any]:
    """A measure with its status under `limit`, and the advice for the side it fell on. The advice
    templates may use {value}, {target} (the value to reach for a clean pass) and any `extra`."""
    status = limit.status(value)
    advice = ""
    if status != "pass":
        if limit.is_low(value):
            advice = low.format(value=value, target=limit.low_target(), **extra)
        else:
            advice = high.format(value=value, target=limit.high_target(), **extra)
    return measure(name, value, unit, status, advice)


def report(preset: str, measures: list[dict[str, Any]]) -> dict[str, Any]:
    verdict = "fail" if any(x["status"] == "fail" for x in measures) else "pass"
    return {"verdict": verdict, "preset": preset, "measures": measures}


def check_video(
    path: Path,
    preset: str,
    max_bytes: int,
    on_progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Checks one video file against a preset; never raises for a bad file, only reports it."""
    rules = limits(preset)
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return report(preset, [measure(UNREADABLE, "missing", "", "fail", f"the file cannot be opened ({exc.strerror}): check its name and send it again")])
    size_mb = round(size / MB, 1)
    if size > max_bytes:
        return report(preset, [measure(
            "file_size", size_mb, "MB", "fail",
            f"the file is {size_mb:g} MB and the limit is {max_bytes / MB:.0f} MB: trim it to 1 to 5 minutes, "
            "or export it at 1080p or less",
        )])
    sized = measure("file_size", size_mb, "MB")
    max_duration = rules["duration"].fail_above or 900
    try:
        scan = scan_video(path, max_seconds=max_duration + 5, on_progress=on_progress)
    except Unreadable as exc:
        return report(preset, [sized, measure(UNREADABLE, "unreadable", "", "fail", f"{exc.reason}; {exc.advice}")])
    return report(preset, [sized, *picture_measures(scan, rules), *sound_measures(scan, rules), *face_measures(scan, rules)])


def _container(scan: Scan) -> dict[str, Any]:
    codecs = " + ".join(c for c in (scan.video_codec, scan.audio_codec) if c)
    value = f"{scan.container.split(',')[0]}: {codecs}"
    if scan.decode_errors:
        return measure(
            UNREADABLE, value, "", "warning",
            f"{scan.decode_errors} damaged packets were skipped; if the picture or sound stutters, export the video "
            "again from the original recording",
        )
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
        out.append(judged(
            "completeness", completeness, "%", rules["completeness"],
            low="only {value:g}% of the video's {declared:.1f} s could be decoded: the file is cut off or damaged; "
            "send the complete file again (from the phone or camera, not a partial copy)",
            declared=declared,
        ))
    minimum = rules["duration"].fail_below or 0
    longer = ("a longer recording trains a mouth that follows any voice more surely, and keeps 10 s of your own speech "
              "aside to test the avatar's lip sync on (1 to 5 minutes is best)")
    out.append(judged(
        "duration", round(duration, 1), "s", rules["duration"],
        low=("the video is {value:g} s long, under the {minimum:g} s this avatar needs; record at least {minimum:g} s of "
             "yourself speaking to the camera, {target:g} s or more if you can: " if duration < minimum else
             "the video is {value:g} s long: enough to start, and {target:g} s or more makes a better avatar: ") + longer,
        high="the video is {value:g} s long; trim it to at most {target:g} s (1 to 5 minutes is best)",
        minimum=minimum,
    ))
    fps = m.frame_rate(scan.times)
    variable, dropped = m.interval_stats(scan.times)
    out.append(judged(
        "frame_rate", round(fps, 2), "fps", rules["frame_rate"],
        low="the video has {value:g} frames a second; record at {target:g} fps or more (25 or 30 fps, the "
        "camera's usual video mode)",
    ))
    out.append(judged(
        "frame_rate_variation", round(variable, 1), "%", rules["frame_rate_variation"],
        high="{value:g}% of the frame intervals are irregular (a variable frame rate); set the camera to a fixed "
        "frame rate, or export the video at a constant 25 or 30 fps, so that at most {target:g}% are",
    ))
    out.append(judged(
        "dropped_frames", round(dropped, 1), "%", rules["dropped_frames"],
        high="{value:g}% of the frames are missing (gaps in the frame times); close other apps while recording, "
        "or record at a lower resolution, so that at most {target:g}% are lost",
    ))
    out.append(judged(
        "duplicated_frames", round(m.duplicated_percent(scan.frame_diffs), 1), "%", rules["duplicated_frames"],
        high="{value:g}% of the frames repeat the one before (a frozen or stuttering picture); record with the "
        "camera app itself, not a screen recorder or a converted file, so that at most {target:g}% repeat",
    ))
    out.append(judged(
        "resolution", min(width, height), "px", rules["resolution"],
        low="the picture is {width}x{height} px; record at {target:.0f}p or more (the camera's 720p or 1080p setting)",
        width=width, height=height,
    ))
    out.append(judged(
        "rotation", scan.rotation, "°", rules["rotation"],
        high="the video is stored turned by {value}° with a rotation flag (usual for phones); the check turned it "
        "upright. Nothing to do unless it looks sideways somewhere: then export it again with the rotation applied",
    ))
    aspect = round(width / height, 2) if height else 0.0
    out.append(judged(
        "aspect_ratio", aspect, "w/h", rules["aspect_ratio"],
        low="the picture is portrait ({width}x{height}); the avatar is cut around your face from it. For a "
        "landscape avatar, hold the phone sideways while recording",
        high="the picture is very wide ({width}x{height}); record in 16:9 or 4:3 with your face in the middle",
        width=width, height=height,
    ))
    out.append(judged(
        "frame_brightness", round(float(np.median(scan.brightness)), 1), "/255", rules["frame_brightness"],
        low="the picture is too dark (brightness {value:g} of 255); turn on more light, or record by day facing a "
        "window, so that it reaches at least {target:g}",
        high="the picture is overexposed (brightness {value:g} of 255); use softer light or lower the camera's "
        "exposure so that it stays below {target:g}",
    ))
    return out


def sound_measures(scan: Scan, rules: dict[str, Limit]) -> list[dict[str, Any]]:
    if not scan.has_audio:
        return [measure(
            "audio_track", False, "", "fail",
            "the video has no sound track; record with the microphone on (the camera app must not be muted): "
            "the avatar learns its lip movement from your voice",
        )]
    out = [measure("audio_track", True, "")]
    out.append(judged(
        "audio_sample_rate", scan.sample_rate, "Hz", rules["audio_sample_rate"],
        low="the sound is sampled at {value} Hz; record at {target:.0f} Hz or more (the default of any phone or camera)",
    ))
    level = round(m.loudness(scan.sum_squares, scan.mono_samples), 1)
    silent = level <= -90
    out.append(judged(
        "loudness", level, "dBFS", rules["loudness"],
        low=("the sound track is silent ({value:g} dBFS); check that the microphone was on and not muted, and record again"
             if silent else
             "the sound is very quiet ({value:g} dBFS); speak up or bring the microphone closer so that it reaches "
             "at least {target:g} dBFS"),
        high="the sound is very loud ({value:g} dBFS); lower the microphone's gain or move it further away so that "
        "it stays below {target:g} dBFS",
    ))
    if silent:
        return out
    out.append(judged(
        "clipping", round(m.clipping_percent(scan.clipped_samples, scan.raw_samples), 2), "%", rules["clipping"],
        high="{value:g}% of the sound samples are clipped (distorted because too loud); lower the microphone's gain "
        "or move it further away so that at most {target:g}% clip",
    ))
    out.append(judged(
        "noise_floor", round(m.noise_floor(scan.window_rms), 1), "dBFS", rules["noise_floor"],
        high="the background noise between words is at {value:g} dBFS; record in a quiet room (fans, traffic, music "
        "off; a microphone close to you) so that it stays below {target:g} dBFS",
    ))
    out.append(judged(
        "speech_share", round(m.speech_percent(scan.speech_probs), 1), "%", rules["speech_share"],
        low="you speak in {value:g}% of the video; talk for at least {target:g}% of the time (read a text aloud and "
        "keep pauses short)",
    ))
    picture = video_duration(scan)
    if scan.audio_end is not None and picture > 0:
        sound = scan.audio_end - (scan.audio_start or 0.0)
        out.append(judged(
            "av_duration_gap", round(abs(sound - picture), 2), "s", rules["av_duration_gap"],
            high="the sound ({sound:.1f} s) and the picture ({picture:.1f} s) differ in length by {value:g} s; export the "
            "video again from the original recording so that both tracks match (at most {target:g} s apart)",
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
    hint = " (the picture is very dark, which hides the face: add light)" if dark else ""
    out = [judged(
        "face_visible", visible, "%", rules["face_visible"],
        low="a face is seen in {value:g}% of the examined frames" + hint + "; keep your whole face in the picture, "
        "facing the camera, for at least {target:g}% of the video",
    )]
    if not with_face:
        return out
    single = round(sum(1 for f in with_face if f.count == 1) / len(with_face) * 100, 1)
    out.append(judged(
        "single_face", single, "%", rules["single_face"],
        low="only {value:g}% of the frames with a face show exactly one; record alone in the picture (no other "
        "people, photos or posters of faces behind you), so that at least {target:g}% do",
    ))
    boxes = [f.box for f in with_face]
    face_px = round(float(np.median([b[2] for b in boxes])))
    out.append(judged(
        "face_size", face_px, "px", rules["face_size"],
        low="the face is {value} px wide; move closer to the camera, or record at a higher resolution, so that it "
        "is at least {target:.0f} px",
    ))
    share = round(face_px / width * 100, 1) if width else 0.0
    out.append(judged(
        "face_share", share, "%", rules["face_share"],
        low="the face spans {value:g}% of the picture's width; move closer so that it spans at least {target:g}%",
        high="the face spans {value:g}% of the picture's width; step back so that your head and shoulders fit with "
        "some room around them (at most {target:g}%)",
    ))
    cut = round(sum(m.face_cut_off(b, width, height) for b in boxes) / len(boxes) * 100, 1)
    out.append(judged(
        "face_cut_off", cut, "%", rules["face_cut_off"],
        high="the face touches the edge of the picture in {value:g}% of the frames; sit so that your whole head is "
        "inside the picture with room above it (at most {target:g}% of frames)",
    ))
    offset = round(float(np.median([m.face_offset(b, width, height) for b in boxes])), 1)
    out.append(judged(
        "face_offset", offset, "%", rules["face_offset"],
        high="the face is {value:g}% of the picture away from its centre; sit in the middle of the picture (at most "
        "{target:g}% off)",
    ))
    motion = round(m.head_motion([f.time for f in with_face], boxes), 2)
    out.append(judged(
        "head_motion", motion, "face widths/s", rules["head_motion"],
        high="the head moves {value:g} face widths a second (typical); sit still facing the camera, moving at most "
        "{target:g} face widths a second (nodding while talking is fine)",
    ))
    sharp = [f.sharpness for f in with_face if f.sharpness is not None]
    if sharp:
        out.append(judged(
            "sharpness", round(float(np.median(sharp)), 1), "", rules["sharpness"],
            low="the face is blurry (sharpness {value:g}; {target:g} or more is sharp); clean the lens, let the camera "
            "focus on your face, and add light so it need not blur movement",
        ))
    lumas = [f.face_luma for f in with_face if f.face_luma is not None]
    if lumas:
        face_luma = float(np.median(lumas))
        out.append(judged(
            "face_brightness", round(face_luma, 1), "/255", rules["face_brightness"],
            low="the face is too dark (brightness {value:g} of 255); add light in front of you (face a window or a "
            "lamp) so that it reaches at least {target:g}",
            high="the face is overexposed (brightness {value:g} of 255); use softer light or move away from the lamp "
            "so that it stays below {target:g}",
        ))
        pairs = [(f.background_luma, f.face_luma) for f in with_face if f.background_luma is not None and f.face_luma is not None]
        if pairs:
            backlight = round(float(np.median([b - f for b, f in pairs])), 1)
            out.append(judged(
                "backlight", backlight, "levels", rules["backlight"],
                high="the background is {value:g} levels brighter than your face (backlit); do not sit with a window "
                "or lamp behind you, face the light instead (at most {target:g} levels)",
                low="your face is {neg:g} levels brighter than the background (a spotlight); light the room more "
                "evenly",
                neg=-backlight,
            ))
    return out
