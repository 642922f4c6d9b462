"""`video_analysis`: the intake check of a submitted video, the first stage of the production flow.

It decodes the video once, measures it against the preset's thresholds, stores the report as an
`intake_report` artifact and the run's summary, and then either succeeds (the flow goes on) or fails
with `video_rejected`, naming the failing measures and what to do about each. The report is kept
either way, and the person fixes the video and submits it again as the avatar's next version.
"""

from __future__ import annotations

import json

from host.settings import get_settings
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.video_analysis.check import check_video
from host.presets import PRESETS_ORDER

REPORT_NAME = "intake_report.json"
REPORT_KIND = "intake_report"
REJECTED = "video_rejected"  # the code of every failed check, an unreadable file included


def shown(row: dict) -> str:
    if isinstance(row["value"], bool):
        return "present" if row["value"] else "missing"
    return f"{row['value']}{' ' + row['unit'] if row['unit'] else ''}"


def rejection(report: dict) -> tuple[str, str]:
    """The failed run's message (the failing measures with their values) and advice (one line each)."""
    failing = [x for x in report["measures"] if x["status"] == "fail"]
    listed = ", ".join(f"{x['name']} ({shown(x)})" for x in failing)
    message = f"the video does not pass the {report['preset']} intake check: {listed}"
    advice = "; ".join(x["advice"] for x in failing) + "; then send the new video (it becomes the next version)"
    return message, advice


class VideoAnalysis(Plugin):
    name = "video_analysis"
    version = "1.0.0"
    stages = ("video_analysis",)
    description = (
        "Intake check: container, duration, frame rate, resolution, sound, speech, one face, its size, position, "
        "motion, sharpness and light, each with a threshold and advice."
    )
    cpu_cores = 2.0
    memory_bytes = 1024**3
    parameters_schema = {
        "type": "object",
        "properties": {"preset": {"enum": list(PRESETS_ORDER)}},
        "additionalProperties": False,
    }

    def run(self, ctx: RunContext) -> None:
        settings = get_settings()
        preset = ctx.parameters.get("preset", settings.intake_preset)
        video = ctx.input("video")
        ctx.progress(0.01, "checking the video")
        report = check_video(video, preset, settings.max_video_bytes, on_progress=lambda f: ctx.progress(f, "checking the video"))
        path = ctx.workdir / REPORT_NAME
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        ctx.save_artifact(path, REPORT_NAME, REPORT_KIND, {"verdict": report["verdict"], "preset": preset})
        ctx.summary = report
        if report["verdict"] == "fail":
            message, advice = rejection(report)
            raise StageFailed(REJECTED, message, advice)
        ctx.progress(1.0, "the video passed the check")


if __name__ == "__main__":
    main(VideoAnalysis())
