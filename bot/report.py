"""The intake check's report (docs/intake.md) as a message: each measure with its value, pass,
warning or fail, and the advice under any that is not a clean pass."""

from __future__ import annotations

from bot.catalogue import say

MARKS = {"pass": "✅", "warning": "⚠️", "fail": "❌"}


def value_text(measure: dict) -> str:
    value = measure.get("value")
    if isinstance(value, bool):
        return "present" if value else "missing"
    unit = measure.get("unit") or ""
    return f"{value} {unit}".strip()


def intake_report(report: dict, language: str) -> str:
    passed = report.get("verdict") == "pass"
    lines = [say("report_pass" if passed else "report_fail", language, preset=report.get("preset", ""))]
    for measure in report.get("measures", []):
        lines.append(say("report_line", language, mark=MARKS.get(measure.get("status"), "•"), name=measure["name"].replace("_", " "),
                         value=value_text(measure)))
        if measure.get("status") != "pass" and measure.get("advice"):
            lines.append(say("report_advice", language, advice=measure["advice"]))
    lines.append("")
    lines.append(say("report_next_pass" if passed else "report_next_fail", language))
    return "\n".join(lines)
