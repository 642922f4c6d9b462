"""Which language a text to speak is in, as far as choosing a voice needs: Chinese where it holds
Han characters (no English voice can read them: espeak-ng spells them out as "Chinese letter"),
English otherwise. Kept free of heavy imports: the bot names the voice with it."""

from __future__ import annotations

import re

ESPEAK_VOICES = {"en": "en-us", "zh": "cmn"}  # espeak-ng's Mandarin voice reads Simplified and Traditional
# CJK Unified Ideographs with extension A, compatibility ideographs, and the CJK punctuation block
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f]")


def language_of(text: str) -> str:
    """"zh" for a text with Chinese characters in it, "en" for any other."""
    return "zh" if _HAN.search(text) else "en"
