"""The evaluation report: every measure for the render, the floor and the ceiling, each clip and
their mean, every preset limit checked, and a few sentences for the person.

Format (`twinforge.evaluation`, version 1): `preset`; `clips`: [{`id`, `start`, `stop`, `render`,
`floor`, `ceiling`}] each role a dict of measures (None: not measured); `mean`: the same roles
averaged over the clips; `checks`: [{`measure`, `render`, `floor`, `ceiling`, `limit`, `better`,
`passed` (None: not checked), `words`}]; `passed` (every check that could be made passed);
`summary`: plain sentences.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from plugins.evaluation.thresholds import RULES

FORMAT = "twinforge.evaluation"
FORMAT_VERSION = 1
ROLES = ("render", "floor", "ceiling")


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
        names = sorted({name for clip in clips for name in clip.get(role, {})})
        values = {}
        for name in names:
            found = [clip[role][name] for clip in clips if clip.get(role, {}).get(name) is not None]
            values[name] = float(np.mean(found)) if found else None
        if names:
            result[role] = values
    return result


def checks(mean: dict[str, dict], preset: str, keep: Callable[[str], bool]) -> list[dict]:
    render, baselines = mean.get("render", {}), {role: mean.get(role, {}) for role in ("floor", "ceiling")}
    out = []
    for rule in (rule for rule in RULES if keep(rule.measure)):
        limit = rule.limit(preset, {role: values.get(rule.measure) for role, values in baselines.items()})
        value = render.get(rule.measure)
        out.append({
            "measure": rule.measure, "render": value,
            "floor": baselines["floor"].get(rule.measure), "ceiling": baselines["ceiling"].get(rule.measure),
            "limit": limit, "better": rule.better, "passed": rule.passes(value, limit), "words": rule.words,
        })
    return out


def build(clips: list[dict], preset: str, keep: Callable[[str], bool] = lambda measure: True) -> dict:
    """The report of clips, each {id, start, stop, render, floor?, ceiling?} with measure dicts;
    only the measures `keep` accepts are checked (a stage checks its own)."""
    clips = [{**clip, **{role: with_offset_size(clip[role]) for role in ROLES if role in clip}} for clip in clips]
    mean = mean_roles(clips)
    made = checks(mean, preset, keep)
    judged = [check for check in made if check["passed"] is not None]
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "preset": preset, "clips": clips, "mean": mean,
        "checks": made, "passed": bool(judged) and all(check["passed"] for check in judged),
        "summary": summary(made, preset),
    }


def summary(made: list[dict], preset: str) -> list[str]:
    judged = [check for check in made if check["passed"] is not None]
    failed = [check for check in judged if not check["passed"]]
    lines = []
    if not judged:
        lines.append("Nothing could be checked: the measures' baselines are missing (give the real recording to compare with).")
    elif not failed:
        lines.append(f"The video passes all {len(judged)} checks of the {preset} preset.")
    else:
        lines.append(f"The video fails {len(failed)} of {len(judged)} checks of the {preset} preset.")
    for check in made:
        if check["passed"] is None:
            continue
        mark = "passes" if check["passed"] else "FAILS"
        lines.append(f"{mark}: {check['words']} ({check['measure']} {check['render']:.3g}, {'at least' if check['better'] == 'higher' else 'at most'} {check['limit']:.3g}).")
    unchecked = [check["measure"] for check in made if check["passed"] is None]
    if unchecked:
        lines.append(f"Not checked (not measured, or no baseline to compare with): {', '.join(unchecked)}.")
    return lines


def text(report: dict) -> str:
    """The report as lines for a terminal: each measure's render / floor / ceiling, then the summary."""
    mean = report["mean"]
    names = sorted({name for values in mean.values() for name in values})
    rows = [f"{'measure':<22}" + "".join(f"{role:>12}" for role in ROLES)]
    for name in names:
        cells = "".join(f"{_cell(mean.get(role, {}).get(name)):>12}" for role in ROLES)
        rows.append(f"{name:<22}{cells}")
    return "\n".join(rows + [""] + report["summary"])


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
