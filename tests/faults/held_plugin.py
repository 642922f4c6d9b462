"""`python -m tests.faults.held_plugin STAGE [unsent]`: the real plugin of a stage as its own
process, whose first attempt of each run holds at a known point until the test lets it go or its
call is cancelled. With `unsent`, training holds once its second checkpoint is in the blob store but
before the event that reports it is sent: the state a worker killed with events in flight leaves.

The fault tests kill a process while a run is there, part done (progress reported, a checkpoint
stored for training), instead of at a moment chosen by a sleep. Holding writes
`<data_dir>/holds/<run_id>.held`; the file `<run_id>.release` lets the attempt go on. Every report
goes out unthrottled, so the test sees the iteration each attempt reached.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from host.settings import get_settings
from plugins.audio_features.server import AudioFeatures
from plugins.image_packaging.server import ImagePackaging
from plugins.sdk import context as sdk_context
from plugins.sdk import training
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.trainer.plugin import Trainer
from plugins.trainer.spec import Spec, load_spec
from plugins.video_analysis.server import VideoAnalysis
from tests.fixtures.tiny_submodels import prepare, tiny_spec
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

ITERATIONS = 40
CHECKPOINT_EVERY = 10
HOLD_ITERATION = CHECKPOINT_EVERY + 3  # three iterations past the first checkpoint: work a kill loses
UNSENT_CHECKPOINT = 2 * CHECKPOINT_EVERY
PACKAGING_HOLD = 0.55  # once the runtime layer is built (plugins.image_packaging.server RUNTIME_END)



def checkpointing_often(submodel: str) -> Spec:
    """The default model spec whose tiny preset of `submodel` checkpoints every CHECKPOINT_EVERY
    iterations, where its own interval is the whole run: a fault past the first checkpoint then has
    one to resume from."""
    spec = load_spec()
    model = spec.submodels[submodel]
    presets = {**model.presets, "tiny": {**model.presets["tiny"], "checkpoint_every": CHECKPOINT_EVERY}}
    return replace(spec, submodels={**spec.submodels, submodel: replace(model, presets=presets)})


PLUGINS: dict[str, Callable[[], Plugin]] = {
    "video_analysis": VideoAnalysis,
    "audio_features": AudioFeatures,
    "syncnet": lambda: Trainer("syncnet", tiny_spec(ITERATIONS, CHECKPOINT_EVERY), prepare),
    "generator": lambda: Trainer("generator", checkpointing_often("generator")),  # the real generator
    "image_packaging": ImagePackaging,
}
TRAINERS = ("syncnet", "generator")  # these hold at a training step, the others at a progress mark


def holds_dir() -> Path:
    return get_settings().resolved_data_dir / "holds"


def hold(ctx: RunContext) -> None:
    """Waits for the test's release; a cancelled call (its worker killed) ends the attempt."""
    folder = holds_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ctx.run_id}.held").write_text(str(ctx.attempt))
    while not (folder / f"{ctx.run_id}.release").exists():
        ctx.check_cancelled()
        time.sleep(0.05)


def held(plugin: Plugin, stage: str, unsent: bool = False) -> Plugin:
    """The plugin with its first attempts holding: training at HOLD_ITERATION's loss (or, unsent,
    before reporting UNSENT_CHECKPOINT), the others at their first progress past the stage's mark."""
    run = plugin.run
    mark = PACKAGING_HOLD if stage == "image_packaging" else 0.0

    def run_holding(ctx: RunContext) -> None:
        if ctx.attempt == 1 and unsent:
            emit = ctx.emit

            def hold_before_reporting_checkpoint(event: plugin_pb.RunResponse) -> None:
                ref = event.artifact.artifact
                if ref.kind == "checkpoint" and json.loads(ref.metadata_json)["iteration"] == UNSENT_CHECKPOINT:
                    hold(ctx)
                emit(event)

            ctx.emit = hold_before_reporting_checkpoint
        elif ctx.attempt == 1:
            progress, metric = ctx.progress, ctx.metric
            holding = [True]

            def progress_then_hold(fraction: float, message: str = "", eta_seconds: float | None = None) -> None:
                progress(fraction, message, eta_seconds)
                if holding[0] and stage not in TRAINERS and fraction > mark:
                    holding[0] = False
                    hold(ctx)

            def metric_then_hold(name: str, value: float, step: int = 0) -> None:
                metric(name, value, step)
                if holding[0] and name == "loss" and step == HOLD_ITERATION:
                    holding[0] = False
                    hold(ctx)

            ctx.progress, ctx.metric = progress_then_hold, metric_then_hold
        run(ctx)

    plugin.run = run_holding
    return plugin


if __name__ == "__main__":
    sdk_context.PROGRESS_EVERY_S = 0.0
    training.METRICS_EVERY_S = 0.0
    chosen, *mode = sys.argv[1:]
    main(held(PLUGINS[chosen](), chosen, unsent=mode == ["unsent"]))
