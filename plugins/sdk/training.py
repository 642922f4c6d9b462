"""The training loop every sub-model runs (docs/model.md): resumable from its last checkpoint after
any crash, to the very weights an uninterrupted run ends with.

A checkpoint is a `torch.save` of plain data (tensors, numbers, strings), loaded with
`weights_only=True` so that a checkpoint never runs code: the modules', optimisers' and schedulers'
state dicts, the torch RNG states, the numpy Generator's state (as JSON: its 128-bit integers are no
tensor), the iteration, the history of measures and the stop rules' state, with the modules' weights
at the best evaluation of the early-stop measure: those are what the run exports, not the last ones
(a minute of one person is soon overfitted). A fingerprint of the
sub-model, its config and its inputs goes with it, and a checkpoint with another fingerprint is
ignored, never mixed in. Evaluation runs before the checkpoint is written, so a resumed run
continues from the same RNG states an uninterrupted one has at that iteration.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from plugins.sdk import chunks
from plugins.sdk.context import RunContext

CHECKPOINT_FORMAT = "twinforge.training_checkpoint"
CHECKPOINT_FILE = "training-checkpoint.pt"
# Metrics are averaged over the iterations since the last report and sent about once a second:
# a fast loop at tens of iterations a second would otherwise write as many notification rows.
METRICS_EVERY_S = 1.0


@dataclass(frozen=True)
class Setup:
    """What a sub-model's `prepare` gets (docs/model.md, the training loop contract)."""

    training_set: Path | None  # None only for a sub-model whose spec lists no training_set input
    materials: dict[str, Any]
    upstream: dict[str, Path]
    config: dict[str, Any]
    device: torch.device
    rng: np.random.Generator
    workdir: Path
    progress: Callable[[float, str], None]


@dataclass
class Trainable:
    """What a sub-model's `prepare` hands back for the loop to drive (docs/model.md)."""

    modules: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]  # each with state_dict / load_state_dict
    batch_size: int
    step: Callable[[int], dict[str, float]]  # one optimisation step: the losses and "lr"
    evaluate: Callable[[], dict[str, float]]  # held-out measures
    export: Callable[[Path], dict[str, Any]]  # writes the model file, returns its metadata
    iterations: int | None = None  # fewer than the preset's most, where the data warrants fewer (common.iterations_for)


@dataclass(frozen=True)
class StopRules:
    """When to stop before `iterations`: a held-out measure (from `evaluate`, lower is better)
    that reached `target` (good enough: more training only costs time), or has not improved by
    `min_delta` for `patience` evaluations in a row (a plateau), or a time budget over every
    attempt."""

    measure: str | None = None
    patience: int = 0
    min_delta: float = 0.0
    max_seconds: float | None = None
    target: float | None = None


def training_device(cpu_cores: float) -> torch.device:
    """The GPU when there is one; torch uses as many threads as the plugin declared cores, so that
    two runs on one machine do not fight over every core."""
    torch.set_num_threads(max(1, int(cpu_cores)))
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def training_fingerprint(ctx: RunContext, submodel: str, version: str, config: dict[str, Any]) -> str:
    """What a checkpoint's weights depend on: the inputs' contents, the parameters, the sub-model's
    code version and its config."""
    return chunks.fingerprint(ctx, version, submodel=submodel, config=config)


@dataclass
class _State:
    iteration: int = 0
    history: list[dict[str, Any]] | None = None
    best: float | None = None
    since_best: int = 0
    seconds: float = 0.0
    stopped: str | None = None  # why training ended; set in the last checkpoint
    best_modules: dict[str, Any] | None = None  # the modules' weights at the best evaluation of the early-stop measure
    best_iteration: int = 0


def _capture(trainable: Trainable, rng: np.random.Generator, mark: str, state: _State) -> dict[str, Any]:
    saved = {
        "format": CHECKPOINT_FORMAT,
        "fingerprint": mark,
        "iteration": state.iteration,
        "modules": {name: module.state_dict() for name, module in trainable.modules.items()},
        "optimizers": {name: opt.state_dict() for name, opt in trainable.optimizers.items()},
        "schedulers": {name: sched.state_dict() for name, sched in trainable.schedulers.items()},
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "history": json.dumps(state.history or []),
        "best": state.best,
        "since_best": state.since_best,
        "seconds": state.seconds,
        "stopped": state.stopped,
        "best_modules": state.best_modules or {},
        "best_iteration": state.best_iteration,
    }
    if torch.cuda.is_available():
        saved["cuda_rng"] = torch.cuda.get_rng_state_all()
    return saved


def _restore(saved: dict[str, Any], trainable: Trainable, rng: np.random.Generator) -> _State:
    for name, module in trainable.modules.items():
        module.load_state_dict(saved["modules"][name])
    for name, opt in trainable.optimizers.items():
        opt.load_state_dict(saved["optimizers"][name])
    for name, sched in trainable.schedulers.items():
        sched.load_state_dict(saved["schedulers"][name])
    torch.set_rng_state(saved["torch_rng"])
    if "cuda_rng" in saved and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda_rng"])
    rng.bit_generator.state = json.loads(saved["numpy_rng"])
    return _State(
        iteration=int(saved["iteration"]),
        history=json.loads(saved["history"]),
        best=saved["best"],
        since_best=int(saved["since_best"]),
        seconds=float(saved["seconds"]),
        stopped=saved["stopped"],
        best_modules=saved.get("best_modules") or None,
        best_iteration=int(saved.get("best_iteration", 0)),
    )


def _resumed(ctx: RunContext, trainable: Trainable, rng: np.random.Generator, mark: str) -> _State:
    if ctx.resume_checkpoint is None:
        return _State(history=[])
    try:
        saved = torch.load(ctx.resume_checkpoint, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            ctx.log("the checkpoint is not a training checkpoint: training from the start", "warning")
            return _State(history=[])
        if saved.get("fingerprint") != mark:
            ctx.log("the checkpoint was made from other inputs, settings or code: training from the start", "warning")
            return _State(history=[])
        state = _restore(saved, trainable, rng)
    except (OSError, RuntimeError, KeyError, ValueError, EOFError) as exc:
        ctx.log(f"the checkpoint cannot be read ({exc}): training from the start", "warning")
        return _State(history=[])
    ctx.log(f"resuming at iteration {state.iteration} from the last checkpoint")
    return state


def _save(ctx: RunContext, trainable: Trainable, rng: np.random.Generator, mark: str, state: _State) -> None:
    """Writes beside and renames, so an upload never reads a half-written file."""
    final = ctx.workdir / CHECKPOINT_FILE
    partial = final.with_suffix(".partial")
    torch.save(_capture(trainable, rng, mark, state), partial)
    os.replace(partial, final)
    ctx.save_checkpoint(final, {"iteration": state.iteration})


def _evaluate(ctx: RunContext, trainable: Trainable, state: _State, losses: dict[str, float]) -> dict[str, float]:
    with torch.no_grad():
        measures = {name: float(value) for name, value in trainable.evaluate().items()}
    for name, value in measures.items():
        ctx.metric(f"eval_{name}", value, state.iteration)
    state.history.append({"iteration": state.iteration, "losses": losses, "evaluation": measures})
    return measures


def _reached(rules: StopRules, measures: dict[str, float]) -> bool:
    value = measures.get(rules.measure) if rules.measure is not None else None
    return rules.target is not None and value is not None and math.isfinite(value) and value <= rules.target


def _improved(rules: StopRules, state: _State, measures: dict[str, float], trainable: Trainable) -> bool:
    """Updates the early-stop state, keeping the modules' weights at the best evaluation; False
    once the measure has stalled for `patience` evaluations."""
    if rules.measure is None or rules.patience <= 0:
        return True
    value = measures.get(rules.measure)
    if value is None or not math.isfinite(value):
        return True
    if state.best is None or value < state.best - rules.min_delta:
        state.best, state.since_best = value, 0
        state.best_modules = {name: {k: v.detach().clone() for k, v in module.state_dict().items()} for name, module in trainable.modules.items()}
        state.best_iteration = state.iteration
        return True
    state.since_best += 1
    return state.since_best < rules.patience


class _Means:
    """Running means of the step's outputs, for the metrics and the checkpoint's history."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
        self.count += 1

    def take(self) -> dict[str, float]:
        means = {name: total / self.count for name, total in self.sums.items()} if self.count else {}
        self.sums, self.count = {}, 0
        return means


def run_training(
    ctx: RunContext,
    trainable: Trainable,
    rng: np.random.Generator,
    iterations: int,
    checkpoint_every: int,
    mark: str | None = None,
    rules: StopRules = StopRules(),
    start_fraction: float = 0.0,
    end_fraction: float = 1.0,
) -> dict[str, Any]:
    """Trains from the last checkpoint (if any, and of the same fingerprint) to `iterations` or a
    stop rule; returns the summary: iterations done, where it resumed, why it stopped, the last
    losses, the final evaluation, samples per second and the history at each checkpoint. Progress
    covers start_fraction..end_fraction."""
    if iterations < 1 or checkpoint_every < 1:
        raise ValueError("iterations and checkpoint_every must be at least 1")
    mark = mark if mark is not None else chunks.fingerprint(ctx, "training")
    state = _resumed(ctx, trainable, rng, mark)
    resumed_from = state.iteration
    for module in trainable.modules.values():
        module.train()
    for_metrics, for_history = _Means(), _Means()
    last_losses: dict[str, float] = {}
    steps_seconds = 0.0
    steps_done = 0
    last_metrics = time.monotonic()
    attempt_start = time.monotonic()
    seconds_before = state.seconds
    while state.stopped is None:
        ctx.check_cancelled()
        started = time.monotonic()
        losses = {name: float(value) for name, value in trainable.step(state.iteration).items()}
        took = max(time.monotonic() - started, 1e-9)
        state.iteration += 1
        steps_seconds += took
        steps_done += 1
        state.seconds = seconds_before + (time.monotonic() - attempt_start)
        for_metrics.add({**losses, "samples_per_second": trainable.batch_size / took})
        for_history.add(losses)
        last_losses = losses
        at_checkpoint = state.iteration % checkpoint_every == 0 or state.iteration >= iterations
        now = time.monotonic()
        if at_checkpoint or now - last_metrics >= METRICS_EVERY_S:
            for name, value in for_metrics.take().items():
                ctx.metric(name, value, state.iteration)
            last_metrics = now
        left = (iterations - state.iteration) * steps_seconds / steps_done
        fraction = start_fraction + (end_fraction - start_fraction) * state.iteration / iterations
        ctx.progress(fraction, _message(state.iteration, iterations, losses), left)
        over_time = rules.max_seconds is not None and state.seconds >= rules.max_seconds
        if at_checkpoint or over_time:
            measures = _evaluate(ctx, trainable, state, for_history.take())
            if over_time:
                state.stopped = "time_limit"
            elif _reached(rules, measures):
                state.stopped = "target_reached"
                ctx.log(f"stopping: {rules.measure} reached its target {rules.target:g}")
            elif not _improved(rules, state, measures, trainable):
                state.stopped = "early_stop"
                ctx.log(f"stopping early: {rules.measure} has not improved for {rules.patience} evaluations")
            elif state.iteration >= iterations:
                state.stopped = "iterations"
            for module in trainable.modules.values():
                module.train()
            _save(ctx, trainable, rng, mark, state)
    final = state.history[-1]  # every way out of the loop, or into a finished checkpoint, evaluated last
    if state.best_modules and state.best_iteration != state.iteration:
        # what is exported is the model at its best held-out evaluation, not wherever it overfitted to
        for name, module in trainable.modules.items():
            module.load_state_dict(state.best_modules[name])
        final = next(item for item in state.history if item["iteration"] == state.best_iteration)
        ctx.log(f"keeping the weights of iteration {state.best_iteration}, the best {rules.measure} held out")
    return {
        "iterations": state.iteration,
        "resumed_from": resumed_from,
        "stopped": state.stopped,
        "losses": last_losses if steps_done else final["losses"],
        "evaluation": final["evaluation"],
        "samples_per_second": trainable.batch_size * steps_done / steps_seconds if steps_done else None,
        "training_seconds": round(state.seconds, 3),
        "best_iteration": state.best_iteration or state.iteration,
        "history": state.history,
    }


def _message(iteration: int, iterations: int, losses: dict[str, float]) -> str:
    shown = ", ".join(f"{name} {value:.4g}" for name, value in losses.items() if name != "lr")
    return f"training: iteration {iteration} of {iterations}" + (f" ({shown})" if shown else "")
