"""`quality_eval`: how good does the trained model's mouth look, and the round's one verdict.
sync_detection's renders of the held-out test clips are measured against the real clips (plugins/
evaluation/clips.py): LMD against the real lips, mouth PSNR and SSIM and mouth sharpness at the
source resolution; then every rule of the preset is judged, sync first (plugins/evaluation/report.py)."""

from __future__ import annotations

from plugins.evaluation.clips import run_quality_eval
from plugins.evaluation.sync_detection import PARAMETERS
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main


class QualityEval(Plugin):
    name = "quality_eval"
    version = "2.0.0"
    stages = ("quality_eval",)
    description = (
        "Measures sync_detection's renders of the held-out test clips against the real clips (lip distance, mouth PSNR/SSIM, "
        "mouth sharpness) and judges the round over every rule of the preset, lip sync first."
    )
    cpu_cores = 1.0
    memory_bytes = 2 * 1024**3
    parameters_schema = PARAMETERS

    def run(self, ctx: RunContext) -> None:
        run_quality_eval(ctx)


if __name__ == "__main__":
    main(QualityEval())
