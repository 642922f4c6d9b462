"""What the four trainers share: model files, the learning-rate schedule, light augmentation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from plugins.sdk.errors import StageFailed

FORMAT = "twinforge.lipsync"
FORMAT_VERSION = 1
WARMUP = 50  # steps, or a tenth of a short run
EVAL_SEED = 1234  # held-out batches are the same at every evaluation, and draw nothing from the training RNG


def iterations_for(config: dict, frames: int) -> int:
    """The iterations a run makes: `epochs` passes over its `frames` training frames where the
    preset gives them (20 s of a person is learnt in far fewer steps than a minute, and a draft
    avatar of a short take must be ready in minutes), never more than the preset's `iterations`."""
    most = int(config["iterations"])
    if not config.get("epochs"):
        return most
    return int(np.clip(math.ceil(float(config["epochs"]) * frames / int(config["batch_size"])), 1, most))


def optimizer_and_schedule(module: torch.nn.Module, lr: float, iterations: int, weight_decay: float = 1e-4):
    """AdamW with a short warm-up and a cosine decay to a tenth: a pure function of the iteration,
    so a resumed run keeps its schedule."""
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    warmup = min(WARMUP, max(1, iterations // 10))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, iterations - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def save_model(path: Path, submodel: str, config: dict, weights: dict[str, torch.Tensor], extras: dict) -> None:
    """A plain dict of tensors and numbers: loadable with weights_only=True, so it runs no code."""
    blob = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "submodel": submodel,
        "config": {k: v for k, v in config.items() if isinstance(v, (int, float, str, bool))},
        "weights": {k: v.detach().cpu().clone() for k, v in weights.items()},
        **extras,
    }
    torch.save(blob, path)


def load_model(path: Path, submodel: str) -> dict:
    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several kinds for a damaged or foreign file
        raise StageFailed("bad_model_file", f"the {submodel} model file cannot be read: {exc}", f"train {submodel} again") from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or blob.get("submodel") != submodel:
        raise StageFailed("bad_model_file", f"{Path(path).name} is not a {submodel} model file", f"train {submodel} again")
    return blob


def upstream(paths: dict[str, Path], name: str, needed_by: str) -> Path:
    if name not in paths:
        raise StageFailed(
            "missing_upstream", f"{needed_by} needs the {name} model, and none was given", f"train {name} first, then {needed_by}"
        )
    return Path(paths[name])


def brightness(rng: np.random.Generator, count: int, spread: float = 0.08) -> torch.Tensor:
    """A gain per sample (shape [count, 1, 1, 1]), the same for every picture of one sample."""
    return torch.from_numpy(rng.uniform(1 - spread, 1 + spread, size=(count, 1, 1, 1)).astype(np.float32))


def eval_rng() -> np.random.Generator:
    return np.random.default_rng(EVAL_SEED)


def configured(defaults: dict, config: dict) -> dict:
    """The preset's values over the sub-model's defaults; unknown keys (the loop's own, such as
    checkpoint_every) pass through."""
    return {**defaults, **(config or {})}
