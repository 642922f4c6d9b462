"""What the avatar is to say, as a sound file the renderer reads: the request's recording, checked
(it decodes, holds sound, is not too long), or its text spoken by the text-to-speech engine.

The checks run before a render slot is taken, so a bad request fails in milliseconds and never
makes a good one wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from plugins.media.audio import SAMPLE_RATE, NoSound, read_audio
from plugins.sdk.errors import StageFailed
from plugins.tts.speech import speak

MAX_AUDIO_SECONDS = 300.0  # five minutes: a render at real time holds the only render slot that long
ACCEPTED = "a wav, mp3, ogg/opus, m4a or flac recording of the words (mono or stereo, any rate)"


@dataclass(frozen=True)
class Speech:
    """A request: exactly one of `audio` (a recording's bytes) and `text`, and the colour behind
    the cut-out ("#RRGGBB", or empty for the avatar's own background)."""

    audio: bytes | None = None
    text: str | None = None
    background: str = ""


def speech_file(speech: Speech, folder: Path, tts_engine: str = "auto", max_seconds: float = MAX_AUDIO_SECONDS) -> Path:
    """A decodable sound file in `folder` holding what is to be said."""
    if speech.audio is not None and speech.text is None:
        path = folder / "request-audio"
        path.write_bytes(speech.audio)
        check_recording(path, max_seconds)
        return path
    if speech.text is not None and speech.audio is None:
        spoken = speak(speech.text, folder, tts_engine)  # refuses empty or too long text in words
        check_recording(spoken, max_seconds)
        return spoken
    raise StageFailed("no_input", "the request holds neither audio nor text", f"send {ACCEPTED} as `audio`, or the words as `text`")


def check_recording(path: Path, max_seconds: float) -> None:
    """Refuses what cannot be decoded, holds no sound, or lasts longer than `max_seconds`; the
    duration the container declares is trusted first, so an hour-long file is refused undecoded."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise NoSound("it has no audio track")
            declared = container.duration / av.time_base if container.duration else 0.0
    except (av.error.FFmpegError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise StageFailed("audio_unreadable", f"the audio cannot be decoded ({path.stat().st_size} bytes: {why})", f"send {ACCEPTED}") from None
    except NoSound as exc:
        raise StageFailed("audio_unreadable", f"the file holds no sound: {exc}", f"send {ACCEPTED}") from None
    if declared > max_seconds:
        raise too_long(declared, max_seconds)
    try:
        samples = read_audio(path)
    except (NoSound, av.error.FFmpegError) as exc:
        raise StageFailed("audio_unreadable", f"the audio cannot be decoded: {exc}", f"send {ACCEPTED}") from None
    if len(samples) == 0:
        raise StageFailed("audio_empty", "the recording holds no sound (0 samples)", "send a recording with the words in it")
    if len(samples) / SAMPLE_RATE > max_seconds:
        raise too_long(len(samples) / SAMPLE_RATE, max_seconds)


def too_long(seconds: float, max_seconds: float) -> StageFailed:
    return StageFailed(
        "audio_too_long", f"the speech lasts {seconds:.1f} s; this service speaks at most {max_seconds:.0f} s at once",
        "split it into shorter parts and send them one after the other",
    )


def parse_colour(text: str) -> tuple[int, int, int] | None:
    """"#RRGGBB" as an RGB triple; empty as None."""
    if not text:
        return None
    value = text.removeprefix("#")
    if len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise StageFailed("bad_background", f"{text!r} is not a colour", "write the background as #RRGGBB, e.g. #00b140, or leave it empty")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
