"""The evaluation's verdict in the person's words (plugins/evaluation/words.py): every rule, status
and verdict said in English and Simplified Chinese, from the codes the report keeps, with none of
the measures' ids in what a person reads."""

from __future__ import annotations

import json
import re

import pytest

from plugins.evaluation import report, words
from plugins.evaluation.thresholds import RULES
from tests.fixtures.evaluation import FLOOR, FROZEN, GOOD, REAL, own_clip, voice_clip

LANGUAGES = ("en", "zh")
IDS = re.compile("|".join(sorted({rule.name for rule in RULES} | {rule.measure for rule in RULES} | set(REAL), key=len, reverse=True)))
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")  # "dB" is the one unit a Chinese line keeps


def sides(rule) -> list[str]:
    """The statuses a rule can give: pass, missing (no measure), and each side it has a limit on."""
    return ["pass", "missing"] + [side for side in ("low", "high") if any(getattr(rule, side).values())]


def said(made: dict, language: str) -> list[str]:
    """The verdict as a reader says it, after its trip through the run's summary (JSON)."""
    return words.lines(json.loads(json.dumps(report.run_summary(made)))["results"], language)


def test_every_rule_status_and_code_has_its_words_in_english_and_chinese():
    names = {rule.name for rule in RULES}
    assert set(words.UNITS) == names
    for language in LANGUAGES:
        assert set(words.RULES[language]) == names, language
        for rule in RULES:
            assert set(words.RULES[language][rule.name]) == {"name", *sides(rule)} - {"missing"}, (language, rule.name)
        keys = {f"verdict_{code}" for code in report.VERDICTS} | {f"unchecked_{code}" for code in report.UNCHECKED}
        keys |= {f"skipped_{code}" for code in report.SKIPPED} | {status for status in report.STATUSES if status != "pass"}
        assert keys <= set(words.WORDS[language]), keys - set(words.WORDS[language])
    assert set(words.WORDS["en"]) == set(words.WORDS["zh"]) and set(words.TERMINAL["en"]) == set(words.TERMINAL["zh"])
    assert set(words.MARKS) == {"pass", "fail", "unchecked", "skipped"}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_rule_in_every_status_is_said_in_plain_words_and_chinese_has_no_english(rule):
    for status in sides(rule):
        check = {"rule": rule.name, "clip": "t1", "status": status, "value": None if status == "missing" else 0.5,
                 "low": 0.8 if status == "low" else None, "high": 0.2 if status == "high" else None, "floor": 1.0, "ceiling": 1.0}
        english, chinese = (words.check_line(check, language) for language in LANGUAGES)
        assert english and chinese and english != chinese, (status, english)
        assert not IDS.search(english) and not IDS.search(chinese) and "_" not in english + chinese, (status, english, chinese)
        assert not LATIN_WORD.search(chinese), (status, chinese)
        if status in ("low", "high"):
            shown = words.shown(rule.name, 0.5, check, "zh")
            assert shown in chinese, f"{rule.name} {status}: the measured value is said ({shown}): {chinese}"


def test_a_verdict_in_chinese_says_every_line_of_the_english_one_and_names_no_rule():
    faint = own_clip(dict(GOOD), ceiling={**REAL, "sync_confidence": 0.10})  # a stretch whose real recording hides its sync
    no_floor = {**own_clip(dict(GOOD), clip_id="t2"), "floor": {}}
    trembling = voice_clip({**REAL, "sync_confidence": 0.15, "jitter": 5.0})
    made = report.build([faint, trembling, no_floor], "draft")
    assert made["unchecked"] and made["skipped"] and not made["passed"]
    english, chinese = said(made, "en"), said(made, "zh")
    assert len(english) == len(chinese) and english[0].startswith("The video does not pass: lip sync comes first")
    assert chinese[0] == "视频没有通过：口型同步是第一位的，而嘴没有足够好地跟上声音。"
    text = "\n".join(chinese)
    assert not LATIN_WORD.search(text) and not IDS.search(text), text
    assert "❌ 换成一个你没录过的声音时，嘴唇在抖：帧与帧之间的动作是你的 625%，最多 238% 才自然。" in chinese
    assert sum(line.startswith("⚠️ 在你自己的讲话第 2 段里，") for line in chinese) == len(made["unchecked"])
    assert any(line.startswith("➖ 在你自己的讲话第 1 段里，不评判：口型同步、") for line in chinese)
    assert "❌ With a voice you never recorded, the lips tremble: they move 625% as much from frame to frame as yours, " \
           "and at most 238% looks natural." in english
    assert not IDS.search("\n".join(english)), english
    statuses = [item["status"] for item in words.items(report.results(made), "zh")]
    assert statuses.count("unchecked") == len(made["unchecked"]) and {"pass", "fail", "unchecked", "skipped"} == set(statuses)


def test_a_frozen_blurred_mouth_is_told_how_far_it_falls_short():
    made = report.build([own_clip(FROZEN)], "draft")
    english, chinese = said(made, "en"), said(made, "zh")
    assert english[0] == "The video does not pass 2 of its 11 checks."
    assert "❌ The mouth hardly moves: it opens 10% as far as yours, and at least 60% is needed." in english
    assert "❌ The mouth is blurry: 30% as sharp as in your recording, and at least 60% is needed." in english
    assert "✅ The lips follow the voice." in english
    assert chinese[0] == "视频有 2 项检查没有通过（共 11 项）。"
    assert "❌ 嘴几乎不动：张合幅度只有你的 10%，至少要 60%。" in chinese and "✅ 口型跟得上声音。" in chinese


def test_every_verdict_has_its_headline():
    made = {
        "passed": report.build([own_clip(GOOD)], "draft"),
        "failed": report.build([own_clip(FROZEN)], "draft"),
        "sync_failed": report.build([own_clip({**GOOD, "sync_offset": -15})], "draft"),
        "sync_not_judged": report.build([own_clip(GOOD, seconds=4.0)], "draft"),
        "nothing_checked": report.build([voice_clip(dict(REAL))], "draft", groups=("picture",)),
    }
    assert set(made) == set(report.VERDICTS)
    for code, found in made.items():
        assert found["verdict"]["code"] == code, found["summary"]
        headlines = {language: said(found, language)[0] for language in LANGUAGES}
        assert headlines["en"] == words._capital(words.WORDS["en"][f"verdict_{code}"].format(**found["verdict"]))
        assert not LATIN_WORD.search(headlines["zh"]), headlines


def test_a_limit_set_from_a_value_of_nought_is_said_in_plain_numbers():
    still = own_clip({**GOOD, "stillness_in_silence": 0.6}, ceiling={**REAL, "stillness_in_silence": 0.0})
    made = report.build([still], "draft")
    (check,) = [c for c in report.results(made)["checks"] if c["rule"] == "stillness_in_silence"]
    assert check["status"] == "high" and check["ceiling"] == 0.0
    assert words.check_line(check, "en") == "the mouth at rest goes too far (0.6, at most 0.5)."
    assert words.check_line(check, "zh") == "不说话时的嘴过了头（0.6，最多 0.5）。"


def test_the_terminal_report_in_chinese_names_the_measures_in_chinese_and_english_keeps_their_ids():
    made = report.build([own_clip(FROZEN)], "draft")
    chinese, english = report.text(made, "zh"), report.text(made, "en")
    assert "片段 t1，20.0 秒" in chinese and "口型同步得分\t0.4\t0.12\t0.4" in chinese and "测量项\t视频\t原片\t录像" in chinese
    assert not IDS.search(chinese) and chinese.endswith("\n".join(said(made, "zh")))
    assert "  sync_confidence" in english and english.endswith("\n".join(made["summary"]))
    note = {"code": "lengths", "lengths": {"video": 20.0, "sound": 20.0, "floor": 15.0}, "common": 15.0}
    assert words.note(note, "en") == "the inputs differ in length (video 20.00 s, sound 20.00 s, floor 15.00 s): measured over the first 15.00 s they share"
    assert words.note(note, "zh") == "输入的长度不一样（视频 20.00 秒、声音 20.00 秒、原片 15.00 秒）：只测了它们共有的前 15.00 秒"


def test_the_report_keeps_each_check_as_a_code_with_its_values_and_its_limits():
    made = report.build([own_clip(FROZEN), voice_clip({**REAL, "sync_confidence": 0.45})], "draft")
    kept = report.results(made)
    assert kept["verdict"] == made["verdict"] and [c["id"] for c in kept["clips"]] == ["t1", "voice_a"]
    (motion,) = [c for c in kept["checks"] if c["rule"] == "lip_motion" and c["clip"] == "t1"]
    assert motion == {"rule": "lip_motion", "group": "motion", "clip": "t1", "kind": "own", "status": "low", "value": 0.2,
                      "low": pytest.approx(1.2), "high": pytest.approx(2.0 * 1.67), "floor": FLOOR["lip_motion"], "ceiling": 2.0}
    assert all(set(item) == set(report.RESULT_FIELDS) for item in kept["checks"])
    assert not any("why" in item or "words" in item for part in ("checks", "unchecked", "skipped") for item in kept[part])


def test_a_check_passes_only_inside_its_limits_and_a_measure_that_is_not_a_number_is_missing():
    assert [report.status(value, 1.0, 2.0) for value in (0.5, 1.0, 2.0, 2.5, None, float("nan"))] == [
        "low", "pass", "pass", "high", "missing", "missing"]
    assert report.status(5.0, None, None) == "pass" and report.status(-1.0, None, 0.0) == "pass"
