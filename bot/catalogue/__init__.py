"""Every word the bot says, by key, in one catalogue per language (`en.py` first): a translation is
one more module here with the same keys. A language with no module, or a key it lacks, falls back
to English, so a half-done translation never leaves a person without an answer."""

from __future__ import annotations

import importlib
from functools import lru_cache

FALLBACK = "en"
LANGUAGES = ("en", "zh")  # those with a catalogue: what /language offers and a Telegram language maps to


def language_of(code: str | None, default: str = FALLBACK) -> str:
    """The catalogue for a Telegram `language_code` (an IETF tag: "zh", "zh-hans", "zh-CN", "zh-hant"
    all read Chinese; Simplified is what there is), or `default` for a language without one."""
    base = (code or "").replace("_", "-").split("-")[0].lower()
    if base in LANGUAGES:
        return base
    fallback = default.replace("_", "-").split("-")[0].lower()
    return fallback if fallback in LANGUAGES else FALLBACK


def messages(language: str) -> dict[str, str]:
    """Every message of `language`'s catalogue by key (empty for a language without one)."""
    return _messages(language.split("-")[0].lower())


@lru_cache(maxsize=None)
def _messages(language: str) -> dict[str, str]:
    try:
        return importlib.import_module(f"bot.catalogue.{language}").MESSAGES
    except ModuleNotFoundError:
        return {}


def say(key: str, language: str = FALLBACK, **values: object) -> str:
    """The message `key` in `language`, filled with `values` (str.format fields)."""
    template = _messages(language.split("-")[0].lower()).get(key) or _messages(FALLBACK)[key]
    return template.format(**values)


def stage_name(stage: str, language: str = FALLBACK) -> str:
    """A stage as a person reads it; a stage the catalogue does not know is shown by its id."""
    key = f"stage_name_{stage}"
    if key in _messages(language.split("-")[0].lower()) or key in _messages(FALLBACK):
        return say(key, language)
    return stage.replace("_", " ")
