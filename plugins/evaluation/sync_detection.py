"""`sync_detection`: does the trained model's mouth follow the sound, the person's own and voices it
never heard? The held-out test clips (with their own sound) and the unseen voices are rendered and
measured against the floor and the ceiling (plugins/evaluation/clips.py): the proved sync measure's
confidence and offset, the trained sync expert's, and how far and how smoothly the mouth moves."""

from __future__ import annotations

from plugins.evaluation.clips import run_sync_detection
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from host.presets import PRESETS_ORDER

PARAMETERS = {
    "type": "object",
    "properties": {
        "preset": {"enum": list(PRESETS_ORDER)},
        "clips": {"type": "integer", "minimum": 1},
        # set by the host when a retrain makes a new generation of the model (host/retraining.py)
        "generation": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
}


class SyncDetection(Plugin):
    name = "sync_detection"
    version = "2.0.0"
    stages = ("sync_detection",)
    description = (
        "Renders the held-out test clips with their own sound and unseen voices, and measures audio-visual sync (confidence "
        "and offset, the trained sync expert's confidence) and lip motion for the render, the floor and the real clip."
    )
    cpu_cores = 1.0
    memory_bytes = 2 * 1024**3
    parameters_schema = PARAMETERS

    def run(self, ctx: RunContext) -> None:
        run_sync_detection(ctx)


if __name__ == "__main__":
    main(SyncDetection())
