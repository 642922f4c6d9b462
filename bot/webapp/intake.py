"""The intake check's result for the upload page, read from the check's run as the bot reads it from
the notification (bot.report), in the person's language: every measure with its value and advice, but failures first, then
warnings, then passes, since what to fix matters more than what is fine."""

from __future__ import annotations

import json

from bot.catalogue import say
from bot.handlers.common import ACTIVE, run_state
from bot.notifications import INTAKE_STAGE
from plugins.video_analysis import words
from twinforge.host.v1 import host_service_pb2 as host_pb

ORDER = {"fail": 0, "warning": 1, "pass": 2}


def check_run(runs: list[host_pb.StageRun], version: int) -> host_pb.StageRun | None:
    """The newest intake check of submission `version` (a retried check is a newer run)."""
    found = [r for r in runs if r.stage == INTAKE_STAGE and r.submission_version == version]
    return max(found, key=lambda r: r.created_at.ToNanoseconds()) if found else None


def intake_result(run: host_pb.StageRun | None, language: str) -> dict:
    """`done` false while the check waits or runs; then `passed`, the headline, the items and what next."""
    if run is None or run.state in ACTIVE:
        state = say("run_state_pending", language) if run is None else run_state(run, language)
        return {"done": False, "state": state, "progress": run.progress if run is not None else 0.0}
    summary = json.loads(run.summary_json or "{}")
    measures = summary.get("measures") or []
    if not measures:  # the check itself failed (or was stopped) before it measured anything
        return {"done": True, "passed": False, "title": say("webapp_check_not_done", language, state=run_state(run, language)),
                "items": [], "next": " ".join(part for part in (run.error.message, run.error.advice) if part)}
    passed = summary.get("verdict") == "pass"
    items = [
        {"status": m.get("status", ""), "name": words.measure_name(m.get("name", ""), language), "value": words.value_text(m, language),
         "advice": words.row_advice(m, language) if m.get("status") != "pass" else ""}
        for m in sorted(measures, key=lambda m: ORDER.get(m.get("status"), 1))
    ]
    return {"done": True, "passed": passed, "title": say("report_pass" if passed else "report_fail", language),
            "items": items, "next": say("report_next_pass" if passed else "report_next_fail", language)}
