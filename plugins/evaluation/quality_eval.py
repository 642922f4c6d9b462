"""`quality_eval`: how good does the trained model's mouth look and move? The held-out test clips
are rendered with their own sound and measured against the floor and the ceiling (plugins/
evaluation/clips.py): LMD against the real lips, mouth PSNR and SSIM, stillness in silence, jitter
and mouth sharpness."""

from __future__ import annotations

from plugins.evaluation.clips import SYNC_MEASURES, evaluate_test_clips
from plugins.evaluation.sync_detection import PARAMETERS
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main


class QualityEval(Plugin):
    name = "quality_eval"
    version = "1.0.0"
    stages = ("quality_eval",)
    description = (
        "Renders the held-out test clips with their own sound and measures lip distance to the real lips, mouth PSNR/SSIM, "
        "stillness in silence, jitter and mouth sharpness for the render, the floor and the real clip."
    )
    cpu_cores = 1.0
    memory_bytes = 2 * 1024**3
    parameters_schema = PARAMETERS

    def run(self, ctx: RunContext) -> None:
        evaluate_test_clips(ctx, "quality_eval", lambda measure: measure not in SYNC_MEASURES)


if __name__ == "__main__":
    main(QualityEval())
