"""Audio to lips: Whisper rows around a frame to that frame's 40 lip points (around the person's
mean shape, relative to the nose).

Predicted lips swing less far than real ones (regression to the mean, MODEL_NOTES.md), so the model
file carries a gain measured on the held-out frames: the least-squares slope of the real mouth
opening on the predicted one (never below 1), which the graph applies, and each coordinate's range
in training, which the graph keeps to. Scaling up to the real spread instead (the ratio of the
spreads) overshoots by 1/r wherever the prediction is unsure: on congress_60s_256 (r 0.43-0.62) it
made the rendered lips' distance to the real ones 1.61 % of the eye distance against 1.57 with the
slope, and the sync measure no better. The opening also gets its own term in the loss, because it
carries most of what a viewer reads as sync.

In silence the graph pulls the lips to the person's rest pose: their mean lips over the training
frames the voice activity calls silence, weighted as the graph weights them (plugins/lipsync/
speech.py). People rest with the lips a little apart as often as shut; the most closed tenth of all
frames, the earlier rest pose, put the target lips 0.04 % of the eye distance further from the real
ones on the same clip. A recording with too little silence falls back to that most closed tenth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from plugins.lipsync import data as lipdata
from plugins.lipsync import syncnet
from plugins.lipsync.common import configured, iterations_for, load_model, optimizer_and_schedule, save_model, upstream
from plugins.lipsync.nets import Audio2Lip, parameter_count
from plugins.lipsync.speech import speech_weight
from plugins.sdk.training import Setup, Trainable
from plugins.sdk.training_set import open_training_set

NAME = "audio2lip"
DEFAULTS = {"iterations": 800, "batch_size": 64, "lr": 1e-3, "audio_channels": 64, "embed": 128, "components": 8, "opening_weight": 1.0,
            "envelope": True, "whisper_drop": 0.5, "sync_weight": 0.1}
GAIN_RANGE = (1.0, 3.0)
RANGE_PERCENTILES = (1, 99)  # the person's own range of each lip coordinate, which the graph keeps to
CLOSED_PERCENTILE = 10  # the rest pose without enough silence: the mean of the person's most closed tenth
MIN_SILENCE_FRAMES = 25.0  # weight of silent training frames (1 s at 25 fps) needed to measure the rest pose
NOISE = 0.05  # of the feature spread: small perturbations a new microphone brings
# An expert right on fewer held-out windows than this teaches noise, not sync, so it is left out. On
# the phone sample (expert 0.54) the unseen voices' sync was 0.16-0.17 with its loss and 0.12-0.15
# without (bench.lipsync, 2026-12-07): neither clears chance; a 20-s take that the expert cannot
# learn is not rescued by it either way.
MIN_EXPERT_ACCURACY = 0.65


def opening_delta(deltas: torch.Tensor) -> torch.Tensor:
    """The inner-lip gap's change from the mean shape, from the flat [B, 80] deltas."""
    return deltas[:, 2 * lipdata.INNER_BOTTOM + 1] - deltas[:, 2 * lipdata.INNER_TOP + 1]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def least_squares_gain(predicted: np.ndarray, real: np.ndarray) -> float:
    """The slope of `real` on `predicted` (both centred), within GAIN_RANGE."""
    predicted, real = predicted - predicted.mean(), real - real.mean()
    slope = float((predicted * real).sum() / max(float((predicted**2).sum()), 1e-9))
    return float(np.clip(slope, *GAIN_RANGE))


def rest_pose(deltas: np.ndarray, lips: np.ndarray, silence: np.ndarray) -> np.ndarray:
    """float32[80]: the mean of `deltas` weighted by `silence` (0 in speech, 1 in silence), or the
    most closed tenth's mean where the recording holds less than MIN_SILENCE_FRAMES of silence."""
    if silence.sum() >= MIN_SILENCE_FRAMES:
        return ((deltas * silence[:, None]).sum(axis=0) / silence.sum()).astype(np.float32)
    opening = lipdata.opening(lips)
    return deltas[opening <= np.percentile(opening, CLOSED_PERCENTILE)].mean(axis=0).astype(np.float32)


def principal_components(deltas: np.ndarray, count: int) -> torch.Tensor:
    """float32[count, 80]: the main directions of the lips' motion around the mean shape."""
    _, _, directions = np.linalg.svd(deltas - deltas.mean(axis=0), full_matrices=False)
    return torch.from_numpy(directions[:count].astype(np.float32))


class ExpertLoss:
    """The frozen sync expert as a loss on windows of predicted lips: their motion, as the face mesh
    would see it (around their centre, in eye distances), should be the one that made the sound."""

    def __init__(self, path: Path, dataset: lipdata.Dataset, device: torch.device) -> None:
        self.net, saved = syncnet.load(path)
        self.net = self.net.to(device)
        self.accuracy = float(saved.get("held_out_accuracy", 1.0))
        self.window = int(saved["config"]["window"])
        self.mean = saved["mean_shape"].to(device)
        self.dataset = dataset
        eyes = np.linalg.norm(dataset.landmarks[dataset.train][:, lipdata.EYES[0]] - dataset.landmarks[dataset.train][:, lipdata.EYES[1]], axis=1)
        side = float((dataset.geometry.box[2] - dataset.geometry.box[0]) * dataset.crop_size)
        self.eyes = float(np.nanmean(eyes)) / side  # one eye distance in the lips' box units
        self.mean_shape = torch.from_numpy(dataset.geometry.mean_shape).to(device)
        self.starts = syncnet.window_starts(dataset.train, len(dataset.lips), self.window)

    def frames(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` // window whole windows of training frames, frame by frame."""
        starts = self.starts[rng.integers(0, len(self.starts), max(1, count // self.window))]
        return (starts[:, None] + np.arange(self.window)[None]).reshape(-1)

    def __call__(self, predicted: torch.Tensor, frames: np.ndarray) -> torch.Tensor:
        lips = self.mean_shape + predicted.view(-1, len(lipdata.LIPS), 2) * self.dataset.geometry.delta_scale
        shapes = (lips - lips.mean(dim=1, keepdim=True)) / self.eyes - self.mean
        windows = shapes.reshape(-1, self.window, 2 * len(lipdata.LIPS))
        middles = frames.reshape(-1, self.window)[:, self.window // 2]
        sound = syncnet.frame_envelopes(self.dataset.envelopes, middles - self.dataset.offset, self.window, self.dataset.fps)
        logits = self.net(sound.to(predicted.device), windows)
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def prepare(setup: Setup) -> Trainable:
    config = configured(DEFAULTS, setup.config)
    torch.manual_seed(int(setup.rng.integers(2**31)))
    setup.progress(0.0, "reading the training set and encoding its sound")
    dataset = lipdata.load(setup.training_set, setup.materials, 8)
    net = Audio2Lip(int(config["audio_channels"]), int(config["embed"]), int(config["components"]),
                    envelope=bool(config["envelope"]), whisper_drop=float(config["whisper_drop"]))
    net.basis.copy_(principal_components(dataset.deltas[dataset.train], int(config["components"])))
    net = net.to(setup.device)
    iterations = iterations_for(config, len(dataset.train))
    optimizer, schedule = optimizer_and_schedule(net, float(config["lr"]), iterations)
    targets = torch.from_numpy(dataset.deltas)
    size = int(config["batch_size"])
    weight, sync_weight = float(config["opening_weight"]), float(config["sync_weight"])
    expert = ExpertLoss(upstream(setup.upstream, "syncnet", NAME), dataset, setup.device) if sync_weight > 0 else None
    if expert is not None and expert.accuracy < MIN_EXPERT_ACCURACY:
        setup.progress(0.5, f"the sync expert tells this person's held-out sync from chance on {expert.accuracy:.0%} of windows: "
                            "not used as a loss")
        expert = None
    setup.progress(1.0, f"audio2lip ready: {parameter_count(net)} parameters, {len(dataset.train)} training frames")

    def step(iteration: int) -> dict[str, float]:
        net.train()
        frames = expert.frames(size, setup.rng) if expert else dataset.train[setup.rng.integers(0, len(dataset.train), size)]
        rows = dataset.audio(frames)
        rows = rows + NOISE * torch.from_numpy(setup.rng.standard_normal(rows.shape).astype(np.float32))
        target = targets[torch.from_numpy(frames)].to(setup.device)
        predicted = net(rows.to(setup.device), dataset.envelope(frames).to(setup.device))
        found = {"shape": F.mse_loss(predicted, target), "opening": F.mse_loss(opening_delta(predicted), opening_delta(target))}
        loss = found["shape"] + weight * found["opening"]
        if expert is not None:
            found["sync"] = expert(predicted, frames)
            loss = loss + sync_weight * found["sync"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss.item(), **{k: v.item() for k, v in found.items()}, "lr": optimizer.param_groups[0]["lr"]}

    @torch.no_grad()
    def predict(frames: np.ndarray) -> np.ndarray:
        net.eval()
        parts = [frames[i : i + 256] for i in range(0, len(frames), 256)]
        return torch.cat([net(dataset.audio(part).to(setup.device), dataset.envelope(part).to(setup.device)).cpu() for part in parts]).numpy()

    def measures() -> dict[str, float]:
        frames = dataset.held_out
        predicted = predict(frames)
        real = dataset.deltas[frames]
        opening_p, opening_r = opening_delta(torch.from_numpy(predicted)).numpy(), opening_delta(torch.from_numpy(real)).numpy()
        gain = least_squares_gain(opening_p, opening_r)
        return {
            "held_out_mse": float(((predicted - real) ** 2).mean()),
            "held_out_mean_shape_mse": float((real**2).mean()),
            "held_out_opening_r": pearson(opening_p, opening_r),
            "gain": gain,
        }

    def export(path: Path) -> dict:
        found = measures()
        low, high = np.percentile(dataset.deltas[dataset.train], RANGE_PERCENTILES, axis=0)
        samples, _ = open_training_set(setup.training_set).audio()
        silence = 1.0 - speech_weight(samples, dataset.fps, len(dataset.lips))[dataset.train]
        rest = rest_pose(dataset.deltas[dataset.train], dataset.lips[dataset.train], silence)
        speaking = dataset.train[silence < 0.5]
        spread = float(opening_delta(torch.from_numpy(dataset.deltas[speaking if len(speaking) > 1 else dataset.train])).std())
        extras = {**dataset.geometry.tensors(), "gain": found["gain"], "speech_spread": spread, "rest": torch.from_numpy(rest),
                  "delta_low": torch.from_numpy(low.astype(np.float32)), "delta_high": torch.from_numpy(high.astype(np.float32))}
        save_model(path, NAME, config, net.state_dict(), extras)
        return {"submodel": NAME, "preset": config.get("preset", ""), "crop_size": dataset.crop_size,
                "iterations": iterations, "parameters": parameter_count(net), "av_offset": dataset.offset, **found}

    return Trainable({"audio2lip": net}, {"audio2lip": optimizer}, {"audio2lip": schedule}, size, step, measures, export, iterations)


def load(path: Path) -> tuple[Audio2Lip, dict]:
    """The network (in eval mode) and the rest of the file: config, geometry, gain, rest pose (a
    file written before the rest pose was measured from silence carries its most closed tenth as
    "closed", and serves that; one written before the band envelopes has no envelope branch)."""
    saved = load_model(path, NAME)
    if "rest" not in saved and "closed" in saved:
        saved["rest"] = saved["closed"]
    config = saved["config"]
    net = Audio2Lip(int(config["audio_channels"]), int(config["embed"]), int(config["components"]),
                    envelope=bool(config.get("envelope", False)), whisper_drop=float(config.get("whisper_drop", 0.0)))
    net.load_state_dict(saved["weights"])
    net.eval()
    return net, saved
