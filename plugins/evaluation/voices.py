"""Voices the person never recorded, made offline for every evaluation round.

A deployed avatar speaks text through a text-to-speech voice and other people's recordings, not
only its owner's voice; a round that listened to the owner alone would pass an avatar that follows
only the voice it was trained on. So each round also renders the driving clip under these voices
and requires sync above the floor (docs/evaluation.md). Each voice says its own text for 12 s or
more (a sync measure on shorter speech cannot tell sync from chance reliably), at its own pitch
and pace: espeak-ng from Debian always; piper's natural voice too where the optional `tts` extra
is installed. The texts are fixed, so that two rounds of one avatar hear the same speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from plugins.media.audio import SAMPLE_RATE, read_audio, write_wav
from plugins.sdk.errors import StageFailed
from plugins.tts.engines import espeak_installed, piper_installed, speak_espeak, speak_piper

MIN_SECONDS = 12.0

TEXTS = (
    "Good morning, and thank you for calling. My name is on the card you were given, and I will be your guide today. "
    "We will look at the garden first, then walk down to the river, where the boats leave every hour. "
    "Bring a warm coat: the wind by the water is stronger than you think.",
    "Open the box carefully and lift out the two small parts before the large one. "
    "Each piece has a number printed on its side, from one to twelve. "
    "Put them on the table in that order, check that nothing is missing, and then call me back.",
    "Last summer we drove north for six days, stopping in quiet towns with old bridges and busy markets. "
    "Every evening we wrote down what we had seen, and every morning we argued about the map. "
    "It was the best trip we ever took.",
)


@dataclass(frozen=True)
class Voice:
    name: str  # how the report and the preview call it
    engine: str  # espeak or piper
    text: str
    voice: str = "en-us"  # espeak-ng's voice and variant
    pitch: int | None = None  # espeak-ng, 0..99
    words_per_minute: int | None = None  # espeak-ng
    length_scale: float | None = None  # piper: above 1 slower

    def speak(self, path: Path) -> None:
        if self.engine == "piper":
            speak_piper(self.text, path, self.length_scale)
        else:
            speak_espeak(self.text, path, self.voice, self.pitch, self.words_per_minute)


ESPEAK_VOICES = (
    Voice("espeak-ng, low and slow", "espeak", TEXTS[0], "en-us", pitch=30, words_per_minute=145),
    Voice("espeak-ng, high and quick", "espeak", TEXTS[1], "en-gb+f3", pitch=70, words_per_minute=170),
)
PIPER_VOICE = Voice("piper, natural", "piper", TEXTS[2], length_scale=1.05)


def available() -> tuple[Voice, ...]:
    """The voices this machine can make: both espeak-ng voices, and piper's where it is installed."""
    if not espeak_installed():
        raise StageFailed(
            "no_unseen_voices", "espeak-ng is not installed, so the round cannot test the avatar with voices it never heard",
            "install espeak-ng (`apt-get install espeak-ng`; scripts/setup does it), then run the evaluation again",
        )
    return ESPEAK_VOICES + ((PIPER_VOICE,) if piper_installed() else ())


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def make(voice: Voice, folder: Path) -> Path:
    """The voice's speech as a 16 kHz WAV in `folder`, checked to be long enough to measure."""
    folder.mkdir(parents=True, exist_ok=True)
    spoken = folder / f"voice_{slug(voice.name)}.wav"
    voice.speak(spoken)
    samples = read_audio(spoken)
    if len(samples) < MIN_SECONDS * SAMPLE_RATE:
        raise StageFailed(
            "voice_too_short", f"the {voice.name} voice spoke {len(samples) / SAMPLE_RATE:.1f} s, under the {MIN_SECONDS:g} s a sync measure needs",
            "report this as a bug of the evaluation's voices (their texts are too short for this engine)",
        )
    path = folder / f"{spoken.stem}_16k.wav"
    write_wav(path, samples, SAMPLE_RATE)
    spoken.unlink()
    return path
