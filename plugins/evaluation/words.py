"""What the evaluation's verdict tells a person, in English and Simplified Chinese: a headline for
the verdict, then each rule of the preset as what it means for the person's avatar (the lips follow
the voice, the mouth is as sharp as in their recording), passed or not, and by how much where not.
The evaluation keeps its verdict as codes with their values (`results`, plugins/evaluation/
report.py), never as words, so that whoever shows it later (the bot, the web app's review page)
says it in the reader's language, and `twinforge evaluate --lang` in the one asked for. The
English `summary` the report also keeps names the measures, for the terminal and the operators.

Templates are str.format strings: a rule's `low` and `high` take {value} and {limit}, each shown in
the rule's unit (UNITS); the verdict's take its counts; the others say which rule and what was
missing. A line about one clip of several starts with the clip's name ("with a voice you never
recorded, the lips ...")."""

from __future__ import annotations

from typing import Any

from plugins.video_analysis.words import supported

# The marks before each item in text (a web page draws its own badges: not every device has colour emoji).
MARKS = {"pass": "✅", "fail": "❌", "unchecked": "⚠️", "skipped": "➖"}

# How a rule's value and limit are shown: share (a fraction, as a percentage), score (a bare
# number: what it scores means nothing more to a person), frames, db, and yours (the value over
# the person's own: the motion rules are bounded by the real recording's, so "40% as far as yours").
UNITS = {
    "face_share": "share", "sync_above_chance": "score", "sync_above_floor": "score", "sync_offset": "frames",
    "lip_motion": "yours", "jitter": "yours", "stillness_in_silence": "yours",
    "lmd": "score", "mouth_ssim": "score", "mouth_psnr": "db", "sharpness": "share",
}

# Each rule (plugins/evaluation/thresholds.py RULES) by its name: `name` (a few words, for the lines
# that only say which rule), `pass`, and `low` and/or `high` (the side of the limit it missed).
RULES: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "face_share": {
            "name": "finding your face",
            "pass": "your face is found throughout the video.",
            "low": "your face is lost in part of the video: it is found in {value} of the frames, and {limit} is needed.",
        },
        "sync_above_chance": {
            "name": "lip sync",
            "pass": "the lips follow the voice.",
            "low": ("the lips do not follow the voice: they match it no better than lips saying something else would "
                    "(score {value}, {limit} needed)."),
        },
        "sync_above_floor": {
            "name": "lip sync beside the unchanged clip",
            "pass": "the lips follow the voice clearly better than the unchanged clip of you does.",
            "low": "the lips follow the voice hardly better than the unchanged clip of you does (score {value}, {limit} needed).",
        },
        "sync_offset": {
            "name": "lip timing",
            "pass": "the lips move in time with the voice, neither early nor late.",
            "high": "the lips are {value} early or late against the voice; at most {limit} is in time.",
        },
        "lip_motion": {
            "name": "how far the mouth opens",
            "pass": "the mouth opens and closes about as far as yours does when you speak.",
            "low": "the mouth hardly moves: it opens {value} as far as yours, and at least {limit} is needed.",
            "high": "the mouth opens too wide: {value} as far as yours, and at most {limit} looks natural.",
        },
        "jitter": {
            "name": "smooth lips",
            "pass": "the lips move smoothly from frame to frame, like yours.",
            "low": "the lips are stiff: they move {value} as much from frame to frame as yours, and at least {limit} is needed.",
            "high": "the lips tremble: they move {value} as much from frame to frame as yours, and at most {limit} looks natural.",
        },
        "stillness_in_silence": {
            "name": "the mouth at rest",
            "pass": "the mouth rests when nobody speaks, yet stays alive, like yours.",
            "low": "the mouth freezes when nobody speaks: it moves {value} as much as yours then, and at least {limit} is needed.",
            "high": "the mouth keeps moving when nobody speaks: {value} as much as yours then, and at most {limit} looks natural.",
        },
        "lmd": {
            "name": "the shapes of your lips",
            "pass": "the lips take the shapes of your own more closely than the unchanged clip of you does.",
            "high": "the lips' shapes are further from your own than the unchanged clip's are (distance {value}, at most {limit}).",
        },
        "mouth_ssim": {
            "name": "a mouth like yours",
            "pass": "the mouth looks about as much like your real one as the unchanged clip's does.",
            "low": "the mouth looks less like your real one than the unchanged clip's does (likeness {value}, {limit} needed).",
        },
        "mouth_psnr": {
            "name": "the mouth's colours and light",
            "pass": "the mouth's colours and light stay as close to yours as in the unchanged clip.",
            "low": "the mouth's colours and light drift further from yours than in the unchanged clip ({value}, {limit} needed).",
        },
        "sharpness": {
            "name": "a sharp mouth",
            "pass": "the mouth is as sharp as in your recording: teeth and lip edges are clear, with no noise.",
            "low": "the mouth is blurry: {value} as sharp as in your recording, and at least {limit} is needed.",
            "high": "the mouth is grainy: {value} as sharp as in your recording, which shows as noise; at most {limit} looks natural.",
        },
    },
    "zh": {
        "face_share": {
            "name": "找到你的脸",
            "pass": "整段视频里都能找到你的脸。",
            "low": "视频里有一部分找不到你的脸：只有 {value} 的画面能找到，需要 {limit}。",
        },
        "sync_above_chance": {
            "name": "口型同步",
            "pass": "口型跟得上声音。",
            "low": "口型没有跟上声音：和声音的吻合程度不比一张在说别的话的嘴更好（得分 {value}，需要 {limit}）。",
        },
        "sync_above_floor": {
            "name": "和原片相比的口型同步",
            "pass": "口型明显比没改动过的原片更贴合声音。",
            "low": "口型几乎没有比没改动过的原片更贴合声音（得分 {value}，需要 {limit}）。",
        },
        "sync_offset": {
            "name": "口型的时间",
            "pass": "口型和声音同步，不早也不晚。",
            "high": "口型比声音早或晚了 {value}；最多 {limit}才算同步。",
        },
        "lip_motion": {
            "name": "嘴张合的幅度",
            "pass": "嘴张合的幅度和你说话时差不多。",
            "low": "嘴几乎不动：张合幅度只有你的 {value}，至少要 {limit}。",
            "high": "嘴张得太大：张合幅度是你的 {value}，最多 {limit} 才自然。",
        },
        "jitter": {
            "name": "嘴唇的平滑",
            "pass": "嘴唇一帧一帧平滑地移动，和你的一样。",
            "low": "嘴唇太僵：帧与帧之间的动作只有你的 {value}，至少要 {limit}。",
            "high": "嘴唇在抖：帧与帧之间的动作是你的 {value}，最多 {limit} 才自然。",
        },
        "stillness_in_silence": {
            "name": "不说话时的嘴",
            "pass": "没人说话时嘴会安静下来，但不僵硬，和你的一样。",
            "low": "没人说话时嘴完全僵住：这时的动作只有你的 {value}，至少要 {limit}。",
            "high": "没人说话时嘴还在动：这时的动作是你的 {value}，最多 {limit} 才自然。",
        },
        "lmd": {
            "name": "你的唇形",
            "pass": "唇形比没改动过的原片更接近你自己的唇形。",
            "high": "唇形离你自己的唇形比没改动过的原片还远（差距 {value}，最多 {limit}）。",
        },
        "mouth_ssim": {
            "name": "嘴像不像你",
            "pass": "嘴看起来和没改动过的原片一样像你真实的嘴。",
            "low": "嘴看起来不如没改动过的原片像你真实的嘴（相似度 {value}，需要 {limit}）。",
        },
        "mouth_psnr": {
            "name": "嘴部的颜色和光线",
            "pass": "嘴部的颜色和光线和没改动过的原片一样接近你真实的样子。",
            "low": "嘴部的颜色和光线比没改动过的原片偏离你更多（{value}，需要 {limit}）。",
        },
        "sharpness": {
            "name": "嘴的清晰度",
            "pass": "嘴和你录像里的一样清楚：牙齿和嘴唇边缘清晰，没有噪点。",
            "low": "嘴是模糊的：清晰度只有你录像里的 {value}，至少要 {limit}。",
            "high": "嘴上有噪点：清晰度是你录像里的 {value}，显得发花；最多 {limit} 才自然。",
        },
    },
}

# The verdict's headline, by its code (report.verdict), and the lines that are the same for every
# rule: a measure the video did not give, a rule not checked (by its code), a rule that does not
# apply to a clip (by its code), and a limit missed where the rule's own unit cannot be shown.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "verdict_passed": "the video passes all {rules} checks, lip sync first.",
        "verdict_nothing_checked": "nothing could be checked: there was nothing to compare the video with.",
        "verdict_sync_not_judged": ("the video does not pass: lip sync comes first, and no test part could judge it (that needs "
                                    "{min_sync_seconds:g} s or more of speech in which your own recording shows its lip sync)."),
        "verdict_sync_failed": "the video does not pass: lip sync comes first, and the lips do not follow the voice well enough.",
        "verdict_failed": "the video does not pass {failed} of its {rules} checks.",
        "missing": "{name} could not be measured: the face or the speech was not found clearly enough in the video.",
        "unchecked_no_baseline": "{name} could not be checked: there is {baseline} to compare with, so the video cannot pass yet.",
        "unchecked_no_chance": "{name} could not be checked: {seconds:.0f} s is too short to tell lip sync from chance, so the video cannot pass yet.",
        "skipped_not_measurable": "not judged: {names}, as your own recording does not show it there either.",
        "skipped_sync_hidden": "not judged: {names}, as your own recording does not show its lip sync clearly there.",
        "low": "{name} falls short ({value}, at least {limit} needed).",
        "high": "{name} goes too far ({value}, at most {limit}).",
        "baseline_floor": "no unchanged clip of you", "baseline_ceiling": "no recording of you",
        "own": "in your own speech", "own_part": "in part {number} of your own speech",
        "voice": "with a voice you never recorded", "voice_part": "with voice {number} you never recorded",
        "labelled": "{label}, {line}", "and": ", ",
        "frames": "{value:g} frames", "frame": "{value:g} frame", "db": "{value:.1f} dB",
    },
    "zh": {
        "verdict_passed": "视频通过了全部 {rules} 项检查，口型同步排在第一。",
        "verdict_nothing_checked": "什么都没法检查：没有可以和视频对比的东西。",
        "verdict_sync_not_judged": ("视频没有通过：口型同步是第一位的，但没有一段测试能判断它（这需要 {min_sync_seconds:g} 秒或更长、"
                                    "且你自己的录像能看出口型同步的讲话）。"),
        "verdict_sync_failed": "视频没有通过：口型同步是第一位的，而嘴没有足够好地跟上声音。",
        "verdict_failed": "视频有 {failed} 项检查没有通过（共 {rules} 项）。",
        "missing": "{name}没法测量：视频里没能清楚地找到脸或讲话。",
        "unchecked_no_baseline": "{name}没法检查：没有{baseline}可以对比，所以视频还不能通过。",
        "unchecked_no_chance": "{name}没法检查：{seconds:.0f} 秒太短，分不清口型同步是不是碰巧，所以视频还不能通过。",
        "skipped_not_measurable": "不评判：{names}，因为你自己的录像在这里也看不出来。",
        "skipped_sync_hidden": "不评判：{names}，因为你自己的录像在这里也看不清口型同步。",
        "low": "{name}不够（{value}，至少需要 {limit}）。",
        "high": "{name}过了头（{value}，最多 {limit}）。",
        "baseline_floor": "没改动过的原片", "baseline_ceiling": "你的录像",
        "own": "在你自己的讲话里", "own_part": "在你自己的讲话第 {number} 段里",
        "voice": "换成一个你没录过的声音时", "voice_part": "换成第 {number} 个你没录过的声音时",
        "labelled": "{label}，{line}", "and": "、",
        "frames": "{value:g} 帧", "frame": "{value:g} 帧", "db": "{value:.1f} dB",
    },
}

# For the terminal (`twinforge evaluate --lang zh`): the measures, the roles beside the render, and
# the notes on the inputs. English keeps the measures' ids, which operators' scripts read.
MEASURES: dict[str, dict[str, str]] = {
    "zh": {
        "face_share": "找到脸的画面比例", "lip_motion": "嘴张合幅度", "stillness_in_silence": "不说话时嘴的动作", "jitter": "嘴唇抖动",
        "mouth_sharpness": "嘴部清晰度", "lmd": "唇形差距", "mouth_psnr": "嘴部画面接近度（dB）", "mouth_ssim": "嘴部结构相似度",
        "sharpness_ratio": "清晰度（相对录像）", "sync_confidence": "口型同步得分", "sync_offset": "口型偏移（帧）",
        "sync_best": "最佳同步得分", "sync_frames": "测同步的帧数", "sync_offset_frames": "口型偏移大小（帧）",
    },
}
TERMINAL: dict[str, dict[str, str]] = {
    "en": {"measure": "measure", "render": "render", "floor": "floor", "ceiling": "ceiling", "seconds": "{clip}, {seconds:.1f} s",
           "clip_own": "clip {id}", "clip_voice": "voice '{voice}'",
           "note": "Note: {note}.", "video": "video", "sound": "sound", "reference": "reference",
           "note_lengths": "the inputs differ in length ({lengths}): measured over the first {common:.2f} s they share",
           "length": "{role} {seconds:.2f} s"},
    "zh": {"measure": "测量项", "render": "视频", "floor": "原片", "ceiling": "录像", "seconds": "{clip}，{seconds:.1f} 秒",
           "clip_own": "片段 {id}", "clip_voice": "没录过的声音 {id}",
           "note": "注意：{note}。", "video": "视频", "sound": "声音", "reference": "录像",
           "note_lengths": "输入的长度不一样（{lengths}）：只测了它们共有的前 {common:.2f} 秒",
           "length": "{role} {seconds:.2f} 秒"},
}


def _word(key: str, language: str) -> str:
    return WORDS[supported(language)][key]


def _capital(line: str) -> str:
    return line[:1].upper() + line[1:]


def rule_name(rule: str, language: str = "en") -> str:
    """A rule as a person reads it: "lip_motion" is "how far the mouth opens", or "嘴张合的幅度"."""
    return RULES[supported(language)][rule]["name"]


def shown(rule: str, value: float, check: dict[str, Any], language: str) -> str | None:
    """`value` (the check's value or one of its limits) in the rule's unit; None where the unit
    cannot be shown (the person's own value, which a `yours` unit divides by, is zero)."""
    unit = UNITS[rule]
    if unit == "share":
        return f"{value:.0%}"
    if unit == "yours":
        return f"{value / check['ceiling']:.0%}" if check.get("ceiling") else None
    if unit == "frames":
        return _word("frame" if value == 1 else "frames", language).format(value=value)
    if unit == "db":
        return _word("db", language).format(value=value)
    return f"{value:.2f}"


def clip_labels(results: dict[str, Any], language: str = "en") -> dict[str, str]:
    """Each clip's name for the person: their own speech or a voice they never recorded, numbered
    where there are several of a kind."""
    labels = {}
    for kind in ("own", "voice"):
        ids = [clip["id"] for clip in results.get("clips", []) if clip["kind"] == kind]
        for number, clip in enumerate(ids, 1):
            labels[clip] = _word(kind, language) if len(ids) == 1 else _word(f"{kind}_part", language).format(number=number)
    return labels


def check_line(check: dict[str, Any], language: str = "en") -> str:
    """One check's sentence, without its mark: what passing means, or how it missed its limit."""
    rule, state = check["rule"], check["status"]
    templates = RULES[supported(language)][rule]
    if state == "missing":
        return _word("missing", language).format(name=rule_name(rule, language))
    if state == "pass":
        return templates["pass"]
    limit = check[state]
    value, bound = shown(rule, check["value"], check, language), shown(rule, limit, check, language)
    if value is None or bound is None:
        value, bound = f"{check['value']:.3g}", f"{limit:.3g}"
        return _word(state, language).format(name=rule_name(rule, language), value=value, limit=bound)
    return templates[state].format(value=value, limit=bound)


def headline(results: dict[str, Any], language: str = "en") -> str:
    """The verdict in one sentence: passed, or why not (lip sync first)."""
    verdict = results["verdict"]
    return _capital(_word(f"verdict_{verdict['code']}", language).format(**verdict))


def items(results: dict[str, Any], language: str = "en") -> list[dict[str, str]]:
    """Each rule (sync first) passed or missed, a sentence per clip it missed on, then what could
    not be checked and what did not apply: [{status (pass, fail, unchecked or skipped), text}]."""
    labels = clip_labels(results, language)
    several = len(labels) > 1

    def labelled(line: str, clip: str) -> str:
        return _word("labelled", language).format(label=labels.get(clip, clip), line=line) if several else line

    said = []
    checks = results.get("checks", [])
    for rule in dict.fromkeys(check["rule"] for check in checks):
        found = [check for check in checks if check["rule"] == rule]
        missed = [check for check in found if check["status"] != "pass"]
        if not missed:
            said.append({"status": "pass", "text": _capital(check_line(found[0], language))})
        for check in missed:
            line = check_line(check, language)
            said.append({"status": "fail", "text": _capital(labelled(line, check["clip"]) if len(found) > 1 else line)})
    for item in results.get("unchecked", []):
        values = {**item, "name": rule_name(item["rule"], language)}
        if item["code"] == "no_baseline":
            values["baseline"] = _word(f"baseline_{item['baseline']}", language)
        line = _word(f"unchecked_{item['code']}", language).format(**values)
        said.append({"status": "unchecked", "text": _capital(labelled(line, item["clip"]))})
    skipped: dict[tuple[str, str], list[str]] = {}
    for item in results.get("skipped", []):
        skipped.setdefault((item["code"], item["clip"]), []).append(rule_name(item["rule"], language))
    for (code, clip), names in skipped.items():
        line = _word(f"skipped_{code}", language).format(names=_word("and", language).join(names))
        said.append({"status": "skipped", "text": _capital(labelled(line, clip))})
    return said


def lines(results: dict[str, Any], language: str = "en") -> list[str]:
    """The verdict in `language` as lines of text (a chat message, a terminal): the headline, then
    each item after its mark."""
    return [headline(results, language), *(f"{MARKS[item['status']]} {item['text']}" for item in items(results, language))]


def measure_name(name: str, language: str = "en") -> str:
    """A measure for the terminal: its id in English, its name in Chinese."""
    return MEASURES.get(supported(language), {}).get(name, name)


def terminal(key: str, language: str = "en", **values: Any) -> str:
    return TERMINAL[supported(language)][key].format(**values)


def note(found: dict[str, Any], language: str = "en") -> str:
    """A note on the inputs (plugins/evaluation/measure.py measure_files), from its code."""
    lengths = _word("and", language).join(
        terminal("length", language, role=terminal(role, language), seconds=seconds) for role, seconds in found["lengths"].items())
    return terminal(f"note_{found['code']}", language, lengths=lengths, common=found["common"])
