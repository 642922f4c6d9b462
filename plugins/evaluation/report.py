"""The evaluation report and its one verdict: every measure of the render, the floor and the
ceiling of each clip, every rule of the preset checked on every clip it judges, sync first, and a
few sentences for the person. The round, the preview, `produce --auto`, the bot and `twinforge
evaluate` all read the verdict made here (`build`), in the same words.

Format (`twinforge.evaluation`, version 2): `preset`; `clips`: [{`id`, `kind` (own: the person's
held-out speech with its own sound; voice: the driving clip under a voice the person never
recorded), `seconds`, `start`, `stop`, `voice`?, `render`, `floor`, `ceiling`}], each role a dict of
measures (None: not measured); `mean`: each role averaged over the own clips; `checks`: [{`rule`,
`measure`, `group`, `clip`, `kind`, `value`, `low`, `high`, `floor`, `ceiling` (the baselines'
values of the measure), `status` (pass, low, high or missing: the render gave no measure),
`passed`, `words`}] in group order (sync, motion, picture); `unchecked`: [{`rule`, `clip`, `kind`,
`code`, `why`, ...}], rules that could not be checked for want of a baseline (the video cannot pass
then); `skipped`: [{`rule`, `clip`, `kind`, `code`, `why`, ...}], rules that do not apply to a clip;
`verdict`: {`code`, `rules`, `failed`, `clips`, `min_sync_seconds`}; `passed`; `sync_passed`;
`summary`: sentences in English naming the measures, for the terminal and the host's round.

`results` (what the evaluation run keeps in its summary, and the host passes on with the round) is
the same verdict without the measures' tables: the verdict, the clips' ids and kinds, and every
check, unchecked and skipped rule with its code and values, so that plugins/evaluation/words.py
says it in the person's language. Each `code` (unchecked: no_baseline with `baseline`, no_chance
with `seconds`; skipped: not_measurable, sync_hidden with `real` and `chance`) has its words there.

A round passes only when every rule of its preset that judges a clip was checked and passed, and
at least one clip was judged on sync (a preset with sync rules cannot pass without them). A measure
the render could not give (no face, too little speech) fails its rule. A rule does not apply to a
clip that cannot give its measure even for the real person: no silence in the clip means no
stillness, for the real recording either; and sync is not judged on a clip of the person's own
speech whose real recording does not itself clear chance (some stretches of real speech show their
sync too faintly for any mouth-opening measure: judging a render there would fail good models at
random). The unseen voices are always judged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from plugins.evaluation import words
from plugins.evaluation.thresholds import GROUPS, MIN_SYNC_SECONDS, RULES, Chance, Clip, Rule

FORMAT = "twinforge.evaluation"
FORMAT_VERSION = 2
ROLES = ("render", "floor", "ceiling")
KINDS = ("own", "voice")
SYNC_RULE_MEASURE = "sync_confidence"
# The codes a verdict is kept in, each said by plugins/evaluation/words.py in every language.
STATUSES = ("pass", "low", "high", "missing")
VERDICTS = ("passed", "nothing_checked", "sync_not_judged", "sync_failed", "failed")
UNCHECKED = ("no_baseline", "no_chance")
SKIPPED = ("not_measurable", "sync_hidden")


def with_offset_size(measures: dict) -> dict:
    """The measures plus `sync_offset_frames`, the offset's size (a limit holds either way), where
    the offset was measured."""
    if measures.get("sync_offset") is None:
        return measures
    return {**measures, "sync_offset_frames": abs(int(measures["sync_offset"]))}


def mean_roles(clips: list[dict]) -> dict[str, dict]:
    """Each role's measures averaged over the clips (over those that measured it)."""
    result: dict[str, dict] = {}
    for role in ROLES:
        names = sorted({name for clip in clips for name in clip.get(role) or {}})
        values = {}
        for name in names:
            found = [clip[role][name] for clip in clips if (clip.get(role) or {}).get(name) is not None]
            values[name] = float(np.mean(found)) if found else None
        if names:
            result[role] = values
    return result


def judges_sync(rule: Rule) -> bool:
    """Whether the rule is one of the sync measure's (face_share, in the sync group, is not)."""
    return rule.group == "sync" and rule.measure != "face_share"


def why_not(rule: Rule, preset: str, clip: dict) -> dict[str, Any] | None:
    """Why the rule does not apply to the clip ({code, why, values}), or None when it does."""
    same_sound = [clip.get("floor")] + ([clip.get("ceiling")] if clip["kind"] == "own" else [])
    measured = [role for role in same_sound if role]
    if measured and all(role.get(rule.measure) is None for role in measured):
        return {"code": "not_measurable", "why": f"the clip gives no {rule.measure} for the real person either"}
    if judges_sync(rule) and clip["kind"] == "own":
        real = (clip.get("ceiling") or {}).get(SYNC_RULE_MEASURE)
        basis = Clip(float(clip["seconds"]))
        chance = Chance().value(SYNC_RULE_MEASURE, basis, preset)
        if real is not None and chance is not None and real < chance:
            return {"code": "sync_hidden", "real": real, "chance": chance,
                    "why": f"the real recording itself scores {real:.3g} here, under chance's {chance:.3g}: this stretch cannot show sync"}
    return None


def status(value: float | None, low: float | None, high: float | None) -> str:
    """pass; low or high: the side of the limit the value is on; missing: the render gave no
    measure (or not a number, which no limit can pass)."""
    if value is None or math.isnan(value):
        return "missing"
    if low is not None and value < low:
        return "low"
    if high is not None and value > high:
        return "high"
    return "pass"


def check(rule: Rule, preset: str, clip: dict) -> dict[str, Any]:
    """The rule's check on one clip, or, under `unchecked`, why it cannot be checked (a baseline
    it needs is missing: {unchecked: {code, why, values}})."""
    render = clip.get("render") or {}
    basis = Clip(float(clip["seconds"]), clip.get("floor") or {}, clip.get("ceiling") or {})
    value = render.get(rule.measure)
    bounds = {}
    for side, by_preset in (("low", rule.low), ("high", rule.high)):
        bound = by_preset.get(preset)
        if bound is None:
            continue
        limit = bound.value(rule.measure, basis, preset)
        if limit is None:
            role = getattr(bound, "baseline", None)
            if role:
                return {"unchecked": {"code": "no_baseline", "baseline": role, "why": f"no {role} measure of {rule.measure} to set the limit from"}}
            return {"unchecked": {"code": "no_chance", "seconds": basis.seconds, "why": f"no chance figure for a {basis.seconds:.1f} s clip"}}
        bounds[side] = limit
    found = status(value, bounds.get("low"), bounds.get("high"))
    return {
        "rule": rule.name, "measure": rule.measure, "group": rule.group, "clip": clip["id"], "kind": clip["kind"],
        "value": value, "low": bounds.get("low"), "high": bounds.get("high"),
        "floor": basis.floor.get(rule.measure), "ceiling": basis.ceiling.get(rule.measure),
        "status": found, "passed": found == "pass", "words": rule.words,
    }


def build(clips: list[dict], preset: str, groups: tuple[str, ...] = GROUPS) -> dict:
    """The report of clips, each {id, kind, seconds, start, stop, voice?, render, floor?, ceiling?}
    with measure dicts, judged on the rules of `groups` (the round: all of them; sync_detection
    judges what it measures, sync and motion); a voice clip's ceiling is the person's own (the mean
    of the own clips' ceilings), so that its mouth is held to how far and how smoothly the person
    moves theirs."""
    clips = [{**clip, **{role: with_offset_size(clip[role]) for role in ROLES if clip.get(role)}} for clip in clips]
    own = [clip for clip in clips if clip["kind"] == "own"]
    person = mean_roles(own).get("ceiling", {})
    clips = [clip if clip["kind"] == "own" or clip.get("ceiling") else {**clip, "ceiling": person} for clip in clips]
    made, unchecked, skipped = [], [], []
    for group in groups:
        for rule in (rule for rule in RULES if rule.group == group):
            for clip in clips:
                if not rule.applies(preset, clip["kind"], float(clip["seconds"])):
                    continue
                reason = why_not(rule, preset, clip)
                if reason is not None:
                    skipped.append({"rule": rule.name, "clip": clip["id"], "kind": clip["kind"], **reason})
                    continue
                found = check(rule, preset, clip)
                if "unchecked" in found:
                    unchecked.append({"rule": rule.name, "clip": clip["id"], "kind": clip["kind"], **found["unchecked"]})
                else:
                    made.append(found)
    sync = [item for item in made if item["group"] == "sync" and item["measure"] != "face_share"]
    needs_sync = "sync" in groups and any(judges_sync(rule) and rule.low.get(preset) for rule in RULES)
    sync_passed = bool(sync) and all(item["passed"] for item in sync) if needs_sync else True
    passed = bool(made) and not unchecked and all(item["passed"] for item in made) and sync_passed
    report = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "preset": preset, "clips": clips, "mean": mean_roles(own),
        "checks": made, "unchecked": unchecked, "skipped": skipped, "passed": passed, "sync_passed": sync_passed,
    }
    report["verdict"] = verdict(report, needs_sync)
    report["summary"] = summary(report)
    return report


def verdict(report: dict, needs_sync: bool) -> dict[str, Any]:
    """The verdict as a code, with the counts its words need: passed; nothing_checked (no
    baseline to compare with); sync_not_judged (lip sync comes first and no clip could judge it);
    sync_failed; failed (some other rule)."""
    made = report["checks"]
    rules = list(dict.fromkeys(item["rule"] for item in made))
    failed = list(dict.fromkeys(item["rule"] for item in made if not item["passed"]))
    sync_judged = any(item["group"] == "sync" and item["measure"] != "face_share" for item in made)
    if not made:
        code = "nothing_checked"
    elif report["passed"]:
        code = "passed"
    elif needs_sync and not sync_judged:
        code = "sync_not_judged"
    elif needs_sync and not report["sync_passed"]:
        code = "sync_failed"
    else:
        code = "failed"
    return {"code": code, "rules": len(rules), "failed": len(failed), "clips": len(report["clips"]), "min_sync_seconds": MIN_SYNC_SECONDS}


RESULT_FIELDS = ("rule", "group", "clip", "kind", "status", "value", "low", "high", "floor", "ceiling")


def results(report: dict) -> dict[str, Any]:
    """The verdict, structured, for whoever says it to a person later (plugins/evaluation/words.py):
    small enough for the run's summary, with no words in any language."""
    return {
        "preset": report["preset"], "passed": report["passed"], "verdict": report["verdict"],
        "clips": [{"id": clip["id"], "kind": clip["kind"]} for clip in report["clips"]],
        "checks": [{key: item[key] for key in RESULT_FIELDS} for item in report["checks"]],
        "unchecked": [{key: value for key, value in item.items() if key != "why"} for item in report["unchecked"]],
        "skipped": [{key: value for key, value in item.items() if key != "why"} for item in report["skipped"]],
    }


def run_summary(report: dict) -> dict[str, Any]:
    """What the evaluation run keeps in its summary for the host's round (host/approval.py)."""
    return {**{key: report[key] for key in ("preset", "passed", "sync_passed", "mean", "summary")}, "results": results(report)}


def clip_name(clip: dict, language: str = "en") -> str:
    """A clip for the terminal: its id, or its voice's name."""
    return words.terminal(f"clip_{clip['kind']}", language, id=clip["id"], voice=clip.get("voice") or clip["id"])


def summary(report: dict) -> list[str]:
    """Sentences in English for the terminal and the host's round: the verdict, then one line per
    rule (sync first) with every clip's value of its measure against its limit, then what could
    not be checked and what did not apply. A person reads plugins/evaluation/words.py's instead."""
    made, preset, found = report["checks"], report["preset"], report["verdict"]
    rules = list(dict.fromkeys(item["rule"] for item in made))
    lines = [{
        "nothing_checked": "Nothing could be checked: the measures' baselines are missing (give the real recording and the floor to compare with).",
        "passed": f"The video passes all {found['rules']} rules of the {preset} preset, lip sync first, on {found['clips']} clip(s).",
        "sync_not_judged": (f"The video does not pass the {preset} preset: lip sync comes first and no clip could judge it "
                            f"(sync is judged on clips of {MIN_SYNC_SECONDS:g} s or more whose real recording shows its sync)."),
        "sync_failed": f"The video does not pass the {preset} preset: lip sync comes first and it fails.",
        "failed": f"The video fails {found['failed']} of {found['rules']} rules of the {preset} preset.",
    }[found["code"]]]
    by_id = {clip["id"]: clip for clip in report["clips"]}
    for name in rules:
        items = [item for item in made if item["rule"] == name]
        mark = "passes" if all(item["passed"] for item in items) else "FAILS"
        values = "; ".join(f"{clip_name(by_id[item['clip']])} {_value(item)}" for item in items)
        lines.append(f"{mark}: {items[0]['words']} ({items[0]['measure']}: {values}).")
    if report["unchecked"]:
        lines.append("Not checked, so the video cannot pass: " + "; ".join(f"{item['rule']} on {item['clip']} ({item['why']})" for item in report["unchecked"]) + ".")
    if report["skipped"]:
        lines.append("Does not apply: " + "; ".join(f"{item['rule']} on {item['clip']} ({item['why']})" for item in report["skipped"]) + ".")
    return lines


def _value(item: dict) -> str:
    shown = "not measured" if item["value"] is None else f"{item['value']:.3g}"
    bounds = [f">= {item['low']:.3g}" if item["low"] is not None else "", f"<= {item['high']:.3g}" if item["high"] is not None else ""]
    return f"{shown} ({' and '.join(b for b in bounds if b)})" + ("" if item["passed"] else " FAILS")


def text(report: dict, language: str = "en") -> str:
    """The report as lines for a terminal: each clip's measures for render / floor / ceiling, then
    the verdict. In English the measures' ids and the summary, which operators' scripts read; in
    another language the measures' names and the verdict as a person reads it (words.lines)."""
    if words.supported(language) == "en":
        rows = []
        for clip in report["clips"]:
            rows.append(f"{clip_name(clip)}, {clip['seconds']:.1f} s")
            names = sorted({name for role in ROLES for name in clip.get(role) or {}})
            rows.append(f"  {'measure':<22}" + "".join(f"{role:>12}" for role in ROLES))
            for name in names:
                rows.append(f"  {name:<22}" + "".join(f"{_cell((clip.get(role) or {}).get(name)):>12}" for role in ROLES))
        return "\n".join(rows + [""] + report["summary"])
    rows = []
    for clip in report["clips"]:
        rows.append(words.terminal("seconds", language, clip=clip_name(clip, language), seconds=clip["seconds"]))
        rows.append("\t".join([words.terminal("measure", language), *(words.terminal(role, language) for role in ROLES)]))
        for name in sorted({name for role in ROLES for name in clip.get(role) or {}}):
            rows.append("\t".join([words.measure_name(name, language), *(_cell((clip.get(role) or {}).get(name)) for role in ROLES)]))
    return "\n".join(rows + [""] + words.lines(results(report), language))


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
