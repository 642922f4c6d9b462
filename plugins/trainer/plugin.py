"""The trainer stages: one plugin per sub-model of the model spec, each serving the stage of its
sub-model's name (`python -m plugins.trainer NAME` runs one).

A trainer gathers what its sub-model trains on (the training set, the materials, the model files of
the sub-models it needs), hands them to the `prepare` of the module the spec names for it (imported
only when a run starts, so that describing the plugin never loads the networks), runs the shared
training loop and stores the model file with the metadata rendering and the next trainers read.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from host.settings import get_settings
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.training import Setup, StopRules, Trainable, run_training, training_device, training_fingerprint
from plugins.trainer.spec import Spec, SubModel, load_spec
from host.presets import PRESETS_ORDER

MODEL_KIND = "model"
DEFAULT_SEED = 20261124
# Shares of the progress bar: preparing the data, training, writing the model file.
PREPARE_SHARE = 0.05
TRAIN_END = 0.97

Prepare = Callable[[Setup], Trainable]


class Trainer(Plugin):
    version = "1.0.0"
    memory_bytes = 4 * 1024**3

    def __init__(self, submodel: str, spec: Spec | None = None, prepare: Prepare | None = None) -> None:
        """`prepare` replaces the prepare of the sub-model's module in the spec (another model family,
        or a test's tiny one); `spec` replaces the default model spec."""
        self.spec = spec or load_spec()
        if submodel not in self.spec.submodels:
            raise ValueError(f"{submodel!r} is not a sub-model of the spec (known: {sorted(self.spec.submodels)})")
        self.submodel: SubModel = self.spec.submodels[submodel]
        self.prepare = prepare
        self.name = f"trainer-{submodel}"
        self.stages = (submodel,)
        self.cpu_cores = self.submodel.cpu_cores
        self.gpus = self.submodel.gpus
        needs = f", trained against {', '.join(self.submodel.needs)}" if self.submodel.needs else ""
        self.description = (
            f"Trains the {submodel} sub-model, {self.submodel.role} (level {self.submodel.level}{needs}), and stores {submodel}.pt."
        )
        self.parameters_schema = {
            "type": "object",
            "properties": {
                "preset": {"enum": list(PRESETS_ORDER)},
                "seed": {"type": "integer", "minimum": 0},
                # fewer iterations than the preset's: a quick look at a new avatar, or a smoke test
                "iterations": {"type": "integer", "minimum": 1},
                # set by the host when a retrain makes a new generation of the sub-models (host/retraining.py)
                "generation": {"type": "integer", "minimum": 0},
                # multipliers of the preset's numbers (e.g. {"sync_weight": 2, "iterations": 1.5}): the
                # adjustment a person's rejection asks for (host/approval.py)
                "scale": {"type": "object", "additionalProperties": {"type": "number", "exclusiveMinimum": 0}},
            },
            "additionalProperties": False,
        }

    def run(self, ctx: RunContext) -> None:
        name = self.submodel.name
        preset = ctx.parameters.get("preset") or get_settings().intake_preset
        config = {**self.submodel.presets[preset], "preset": preset}
        if "iterations" in ctx.parameters:
            config["iterations"] = min(int(config["iterations"]), int(ctx.parameters["iterations"]))
            config["checkpoint_every"] = min(int(config["checkpoint_every"]), config["iterations"])
        config = scaled(config, ctx.parameters.get("scale", {}), name)
        seed = int(ctx.parameters.get("seed", DEFAULT_SEED))
        ctx.progress(0.0, f"preparing the {name} training data")
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        workdir = ctx.workdir / "train"
        workdir.mkdir(exist_ok=True)
        setup = Setup(
            training_set=ctx.input("training_set") if "training_set" in self.submodel.inputs else None,
            materials=json.loads(ctx.input("materials").read_text()) if "materials" in self.submodel.inputs else {},
            upstream=upstream_models(ctx, self.submodel),
            config=config,
            device=training_device(self.cpu_cores),
            rng=rng,
            workdir=workdir,
            progress=lambda fraction, message: ctx.progress(PREPARE_SHARE * max(0.0, min(1.0, fraction)), message),
        )
        trainable = self._prepare()(setup)
        early = self.submodel.early_stop
        rules = StopRules(
            measure=early.measure if early else None,
            patience=early.patience if early else 0,
            min_delta=early.min_delta if early else 0.0,
            max_seconds=float(config["max_minutes"]) * 60,
            target=early.target if early else None,
        )
        most = int(config["iterations"])
        iterations = min(most, getattr(trainable, "iterations", None) or most)  # a duck-typed trainable may leave it out
        summary = run_training(
            ctx, trainable, rng, iterations, min(int(config["checkpoint_every"]), iterations),
            mark=training_fingerprint(ctx, name, self.version, config), rules=rules,
            start_fraction=PREPARE_SHARE, end_fraction=TRAIN_END,
        )
        ctx.progress(TRAIN_END, f"writing {name}.pt")
        path = ctx.workdir / f"{name}.pt"
        metadata = {
            "crop_size": config["crop_size"],
            **trainable.export(path),
            "submodel": name,
            "preset": preset,
            "iterations": summary["iterations"],
            "seed": seed,
        }
        ctx.save_artifact(path, path.name, MODEL_KIND, metadata)
        ctx.summary = {"submodel": name, "preset": preset, "config": config, **summary}
        ctx.progress(1.0, f"{name} is trained")

    def _prepare(self) -> Prepare:
        """The given prepare, else the one of the module the spec names, imported only now: describing
        the plugin never loads the networks."""
        if self.prepare is not None:
            return self.prepare
        module = self.submodel.module
        prepare = getattr(importlib.import_module(module), "prepare", None)
        if not callable(prepare):
            raise StageFailed(
                "no_prepare",
                f"{module}, the module of the {self.submodel.name} sub-model in the model spec, has no prepare(setup)",
                f"define prepare(setup: Setup) -> Trainable in {module}, or name in the spec's `module` the module that does",
            )
        return prepare


def scaled(config: dict, scale: dict[str, float], name: str) -> dict:
    """The preset's values multiplied as a rejection's adjustment asks; only numbers the preset
    has can be scaled, so a misspelt or foreign setting fails instead of silently changing nothing."""
    unknown = sorted(key for key in scale if not isinstance(config.get(key), (int, float)) or isinstance(config.get(key), bool))
    if unknown:
        known = sorted(key for key, value in config.items() if isinstance(value, (int, float)) and not isinstance(value, bool))
        raise StageFailed(
            "unknown_setting",
            f"{name} has no numeric setting {', '.join(unknown)} to scale",
            f"scale one of {', '.join(known)}",
        )
    result = dict(config)
    for key, factor in scale.items():
        value = config[key] * float(factor)
        result[key] = max(1, int(round(value))) if isinstance(config[key], int) else value
    if "iterations" in scale:
        result["checkpoint_every"] = min(int(result["checkpoint_every"]), result["iterations"])
    return result


def upstream_models(ctx: RunContext, submodel: SubModel) -> dict[str, Path]:
    """The model files of the sub-models it needs, by name, from the inputs of kind `model`."""
    found = {}
    for item in ctx.inputs:
        if item.ref.kind != MODEL_KIND:
            continue
        owner = json.loads(item.ref.metadata_json or "{}").get("submodel")
        if owner in submodel.needs:
            found[owner] = item.path
    missing = [need for need in submodel.needs if need not in found]
    if missing:
        raise StageFailed(
            "missing_upstream_model",
            f"{submodel.name} trains against the model files of {', '.join(missing)}, and none was given",
            f"train {', '.join(missing)} first (the flow does it before {submodel.name}), or retrain from them",
        )
    return found
