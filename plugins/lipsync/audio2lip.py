"""Audio to lips: Whisper rows around a frame to that frame's 40 lip points (around the person's
mean shape, relative to the nose).

Predicted lips swing about half as far as real ones (regression to the mean, MODEL_NOTES.md), so
the model file carries a gain measured on the held-out frames: the ratio of the real mouth
opening's spread to the predicted one's, which the graph applies to bring the opening back to the
person's own range, and each coordinate's range in training, which the graph keeps to. The
opening also gets its own term in the loss, because it carries most of what a viewer reads as sync.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from plugins.lipsync import data as lipdata
from plugins.lipsync.common import configured, load_model, optimizer_and_schedule, save_model
from plugins.lipsync.nets import Audio2Lip, parameter_count
from plugins.sdk.training import Setup, Trainable

NAME = "audio2lip"
DEFAULTS = {"iterations": 800, "batch_size": 64, "lr": 1e-3, "audio_channels": 64, "embed": 128, "components": 8, "opening_weight": 1.0}
GAIN_RANGE = (1.0, 3.0)
RANGE_PERCENTILES = (1, 99)  # the person's own range of each lip coordinate, which the graph keeps to
CLOSED_PERCENTILE = 10  # the mouth in silence: the mean of the person's most closed tenth
NOISE = 0.05  # of the feature spread: small perturbations a new microphone brings


def opening_delta(deltas: torch.Tensor) -> torch.Tensor:
    """The inner-lip gap's change from the mean shape, from the flat [B, 80] deltas."""
    return deltas[:, 2 * lipdata.INNER_BOTTOM + 1] - deltas[:, 2 * lipdata.INNER_TOP + 1]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def principal_components(deltas: np.ndarray, count: int) -> torch.Tensor:
    """float32[count, 80]: the main directions of the lips' motion around the mean shape."""
    _, _, directions = np.linalg.svd(deltas - deltas.mean(axis=0), full_matrices=False)
    return torch.from_numpy(directions[:count].astype(np.float32))


def prepare(setup: Setup) -> Trainable:
    config = configured(DEFAULTS, setup.config)
    torch.manual_seed(int(setup.rng.integers(2**31)))
    setup.progress(0.0, "reading the training set and encoding its sound")
    dataset = lipdata.load(setup.training_set, setup.materials, 8)
    net = Audio2Lip(int(config["audio_channels"]), int(config["embed"]), int(config["components"]))
    net.basis.copy_(principal_components(dataset.deltas[dataset.train], int(config["components"])))
    net = net.to(setup.device)
    optimizer, schedule = optimizer_and_schedule(net, float(config["lr"]), int(config["iterations"]))
    targets = torch.from_numpy(dataset.deltas)
    size = int(config["batch_size"])
    weight = float(config["opening_weight"])
    setup.progress(1.0, f"audio2lip ready: {parameter_count(net)} parameters, {len(dataset.train)} training frames")

    def step(iteration: int) -> dict[str, float]:
        net.train()
        frames = dataset.train[setup.rng.integers(0, len(dataset.train), size)]
        rows = dataset.audio(frames)
        rows = rows + NOISE * torch.from_numpy(setup.rng.standard_normal(rows.shape).astype(np.float32))
        target = targets[torch.from_numpy(frames)].to(setup.device)
        predicted = net(rows.to(setup.device))
        shape_loss = F.mse_loss(predicted, target)
        opening_loss = F.mse_loss(opening_delta(predicted), opening_delta(target))
        loss = shape_loss + weight * opening_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss.item(), "shape": shape_loss.item(), "opening": opening_loss.item(), "lr": optimizer.param_groups[0]["lr"]}

    @torch.no_grad()
    def predict(frames: np.ndarray) -> np.ndarray:
        net.eval()
        return torch.cat([net(dataset.audio(frames[i : i + 256]).to(setup.device)).cpu() for i in range(0, len(frames), 256)]).numpy()

    def measures() -> dict[str, float]:
        frames = dataset.held_out
        predicted = predict(frames)
        real = dataset.deltas[frames]
        opening_p, opening_r = opening_delta(torch.from_numpy(predicted)).numpy(), opening_delta(torch.from_numpy(real)).numpy()
        gain = float(np.clip(opening_r.std() / max(opening_p.std(), 1e-6), *GAIN_RANGE))
        return {
            "held_out_mse": float(((predicted - real) ** 2).mean()),
            "held_out_mean_shape_mse": float((real**2).mean()),
            "held_out_opening_r": pearson(opening_p, opening_r),
            "gain": gain,
        }

    def export(path: Path) -> dict:
        found = measures()
        low, high = np.percentile(dataset.deltas[dataset.train], RANGE_PERCENTILES, axis=0)
        opening = lipdata.opening(dataset.lips[dataset.train])
        closed = dataset.deltas[dataset.train][opening <= np.percentile(opening, CLOSED_PERCENTILE)].mean(axis=0)
        extras = {**dataset.geometry.tensors(), "gain": found["gain"], "closed": torch.from_numpy(closed.astype(np.float32)),
                  "delta_low": torch.from_numpy(low.astype(np.float32)), "delta_high": torch.from_numpy(high.astype(np.float32))}
        save_model(path, NAME, config, net.state_dict(), extras)
        return {"submodel": NAME, "preset": config.get("preset", ""), "crop_size": dataset.crop_size,
                "iterations": int(config["iterations"]), "parameters": parameter_count(net), "av_offset": dataset.offset, **found}

    return Trainable({"audio2lip": net}, {"audio2lip": optimizer}, {"audio2lip": schedule}, size, step, measures, export)


def load(path: Path) -> tuple[Audio2Lip, dict]:
    """The network (in eval mode) and the rest of the file: config, geometry, gain."""
    saved = load_model(path, NAME)
    config = saved["config"]
    net = Audio2Lip(int(config["audio_channels"]), int(config["embed"]), int(config["components"]))
    net.load_state_dict(saved["weights"])
    net.eval()
    return net, saved
