"""The sync expert: is this audio window spoken by this window of 5 mouths?

Positives pair a window with the audio around its middle frame. Negatives are real off-sync pairs
from the same person, half offset by 5 to 15 frames (the hard case: the same stretch of speech,
shifted) and half from anywhere else in the training frames; a sync expert trained on matched
pairs only learns nothing. The generator uses it frozen as a loss, and acceptance as a measure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from plugins.lipsync import data as lipdata
from plugins.lipsync.common import brightness, configured, eval_rng, load_model, optimizer_and_schedule, save_model
from plugins.lipsync.nets import SyncNet, parameter_count
from plugins.sdk.training import Setup, Trainable

NAME = "syncnet"
DEFAULTS = {"iterations": 600, "batch_size": 32, "lr": 1e-3, "channels": 16, "audio_channels": 64, "mouth_size": 48}
NEAR_MIN, NEAR_MAX = 5, 15
SHIFT = 2  # pixels a training window is moved by at most: the expert must read the mouth, not its place
EVAL_PAIRS = 512


def mouth_windows(lower: torch.Tensor) -> torch.Tensor:
    """[B, 5, 3, H, W] -> [B, 15, H, W]."""
    return lower.flatten(1, 2)


def pairs(starts: np.ndarray, frames: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(window starts, audio frames, labels): half in sync, a quarter offset 5-15 frames, a quarter
    from anywhere in `frames` at least 5 frames away."""
    chosen = starts[rng.integers(0, len(starts), count)]
    middle = chosen + lipdata.WINDOW // 2
    audio = middle.copy()
    labels = np.ones(count, dtype=np.float32)
    negative = np.arange(count) >= count // 2
    near = negative & (np.arange(count) < count * 3 // 4)
    offsets = rng.integers(NEAR_MIN, NEAR_MAX + 1, count) * rng.choice([-1, 1], count)
    member = np.zeros(int(frames.max()) + NEAR_MAX + 2, dtype=bool)
    member[frames] = True
    shifted = middle + offsets
    inside = (shifted >= 0) & (shifted < len(member)) & member[np.clip(shifted, 0, len(member) - 1)]
    anywhere = frames[rng.integers(0, len(frames), count)]
    for _ in range(8):  # redraw the few that landed within 5 frames of their window
        close = np.abs(anywhere - middle) < NEAR_MIN
        anywhere[close] = frames[rng.integers(0, len(frames), int(close.sum()))]
    audio[near] = np.where(inside[near], shifted[near], anywhere[near])
    audio[negative & ~near] = anywhere[negative & ~near]
    labels[negative] = 0.0
    return chosen, audio, labels


def shifted(mouths: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Each window moved by a few pixels (all its frames alike), edges repeated."""
    padded = F.pad(mouths, (SHIFT, SHIFT, SHIFT, SHIFT), mode="replicate")
    height, width = mouths.shape[-2:]
    moves = rng.integers(0, 2 * SHIFT + 1, size=(len(mouths), 2))
    return torch.stack([padded[i, :, y : y + height, x : x + width] for i, (y, x) in enumerate(moves)])


def batch(dataset: lipdata.Dataset, starts: np.ndarray, audio: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    frames = starts[:, None] + np.arange(lipdata.WINDOW)[None]
    lower = dataset.lower_float(frames.reshape(-1)).view(len(starts), lipdata.WINDOW, 3, *dataset.lower.shape[1:3])
    return dataset.audio(audio), mouth_windows(lower)


def prepare(setup: Setup) -> Trainable:
    config = configured(DEFAULTS, setup.config)
    torch.manual_seed(int(setup.rng.integers(2**31)))
    setup.progress(0.0, "reading the training set and encoding its sound")
    dataset = lipdata.load(setup.training_set, setup.materials, int(config["mouth_size"]))
    net = SyncNet(int(config["channels"]), int(config["audio_channels"])).to(setup.device)
    optimizer, schedule = optimizer_and_schedule(net, float(config["lr"]), int(config["iterations"]))
    train_starts = dataset.window_starts(dataset.train)
    held_starts = dataset.window_starts(dataset.held_out)
    size = int(config["batch_size"])
    setup.progress(1.0, f"syncnet ready: {parameter_count(net)} parameters, {len(train_starts)} training windows")

    def step(iteration: int) -> dict[str, float]:
        net.train()
        starts, audio, labels = pairs(train_starts, dataset.train, size, setup.rng)
        rows, mouths = batch(dataset, starts, audio)
        mouths = shifted(mouths * brightness(setup.rng, size), setup.rng)
        logits = net(rows.to(setup.device), mouths.to(setup.device))
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(labels).to(setup.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        accuracy = ((logits.detach() > 0).float().cpu().numpy() == labels).mean()
        return {"loss": loss.item(), "accuracy": float(accuracy), "lr": optimizer.param_groups[0]["lr"]}

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        net.eval()
        starts, audio, labels = pairs(held_starts, dataset.held_out, EVAL_PAIRS, eval_rng())
        logits = torch.cat([
            net(*(t.to(setup.device) for t in batch(dataset, starts[i : i + 128], audio[i : i + 128]))).cpu()
            for i in range(0, len(starts), 128)
        ])
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(labels))
        accuracy = float(((logits > 0).float().numpy() == labels).mean())
        return {"held_out_loss": float(loss), "held_out_accuracy": accuracy}

    def export(path: Path) -> dict:
        save_model(path, NAME, config, net.state_dict(), {})
        return {"submodel": NAME, "preset": config.get("preset", ""), "crop_size": dataset.crop_size,
                "iterations": int(config["iterations"]), "parameters": parameter_count(net)}

    return Trainable({"syncnet": net}, {"syncnet": optimizer}, {"syncnet": schedule}, size, step, evaluate, export)


def load(path: Path) -> tuple[SyncNet, dict]:
    """The frozen sync expert and its config."""
    saved = load_model(path, NAME)
    config = saved["config"]
    net = SyncNet(int(config["channels"]), int(config["audio_channels"]))
    net.load_state_dict(saved["weights"])
    net.eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net, config
