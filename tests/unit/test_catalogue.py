"""The catalogues (bot/catalogue): Chinese says everything English says, with the same fields to
fill, in Chinese; and the language a person gets, from their Telegram app and from /language."""

from __future__ import annotations

import re
import string

import pytest

from bot import state
from bot.catalogue import LANGUAGES, language_of, say
from bot.catalogue.en import MESSAGES as EN
from bot.catalogue.zh import MESSAGES as ZH
from tests.fixtures.bot_tables import bot_tables  # noqa: F401 (a fixture)

CJK = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
OWN_NAMES = {"language_name_en"}  # each language's button is named in that language


def fields(template: str) -> set[tuple[str, str]]:
    return {(name, spec) for _, name, spec, _ in string.Formatter().parse(template) if name is not None}


def test_chinese_has_every_english_key_and_no_other():
    assert set(ZH) == set(EN)


@pytest.mark.parametrize("key", sorted(EN))
def test_chinese_fills_the_same_fields(key):
    assert fields(ZH[key]) == fields(EN[key])


@pytest.mark.parametrize("key", sorted(set(ZH) - OWN_NAMES))
def test_chinese_is_written_in_chinese(key):
    """What is left without the fields is Chinese, or only marks and emoji (" ★", "   → {advice}")."""
    rest = string.Formatter().parse(ZH[key])
    words = "".join(literal for literal, *_ in rest)
    assert CJK.search(words) or not re.search(r"[A-Za-z]", words), ZH[key]


def test_every_message_fills_in_chinese():
    for key, template in EN.items():
        values = {name: 1.5 if spec else "x" for name, spec in fields(template)}
        assert say(key, "zh", **values) == ZH[key].format(**values)


@pytest.mark.parametrize(("code", "default", "expected"), [
    ("zh", "en", "zh"), ("zh-hans", "en", "zh"), ("zh-CN", "en", "zh"), ("zh-sg", "en", "zh"), ("zh-hant", "en", "zh"),
    ("zh_TW", "en", "zh"), ("en", "zh", "en"), ("en-US", "en", "en"), ("de", "en", "en"), ("de", "zh", "zh"),
    (None, "zh", "zh"), ("", "en", "en"), ("ru", "fr", "en"), ("pt-br", "zh-CN", "zh"),
])
def test_a_telegram_language_picks_a_catalogue(code, default, expected):
    assert language_of(code, default) == expected
    assert expected in LANGUAGES


def test_the_language_is_taken_on_first_contact_and_a_choice_holds(bot_tables):
    assert state.remember(7, 70, "zh-hans").language == "zh"
    assert state.remember(8, 80, "de", "zh").language == "zh"
    assert state.remember(9, 90, "de").language == "en"
    state.set_language(7, "en")
    row = state.remember(7, 71, "zh-hans")  # the app still says Chinese: the person's choice holds
    assert (row.language, row.chat_id) == ("en", 71)
