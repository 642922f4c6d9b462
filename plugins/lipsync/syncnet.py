"""The sync expert: is this the mouth that made this sound, at this time?

It judges the lips' motion, not pixels: a window of lip shapes from the face mesh (the 40 points
around their centre, in eye distances, minus the person's mean: what the evaluation measures on any
video) against the band envelopes of the sound at the same frames. A pixel expert on a minute of one
person tells sync from chance no better than a coin (held-out accuracy 0.50-0.58 on the samples at
draft), and as the generator's loss it pushed towards noise. The network (nets.SyncNet) correlates
a few learnt curves of the sound with as many of the lips' motion over 15 frames (0.6 s): sync is a
correlation in time, and a network with about 700 weights learns it from a 15-s take, where
one with a quarter of a million on Whisper rows learnt the training windows by heart.

Positives pair a window with its own sound. Negatives are real off-sync pairs from the same person,
half offset by 5 to 15 frames (the hard case: the same stretch of speech, shifted) and half from
anywhere else in the training frames; a sync expert trained on matched pairs only learns nothing.
audio2lip trains against it, frozen (the lips it predicts should move with the sound as the
person's do), where it tells sync from chance on the person's held-out speech (the file carries its
held-out accuracy), and the evaluation reports its confidence on every render (plugins/evaluation/sync.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from plugins.lipsync import data as lipdata
from plugins.lipsync import features
from plugins.lipsync.common import configured, eval_rng, load_model, optimizer_and_schedule, save_model
from plugins.lipsync.nets import SyncNet, parameter_count
from plugins.sdk.errors import StageFailed
from plugins.sdk.training import Setup, Trainable

NAME = "syncnet"
DEFAULTS = {"iterations": 1000, "batch_size": 64, "lr": 1e-3, "window": 15, "components": 12, "trajectories": 4, "noise": 0.05,
            "weight_decay": 1e-2}
NEAR_MIN, NEAR_MAX = 5, 15
EVAL_PAIRS = 512


def motion(shapes: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """float32[N, 80]: lip shapes (eye distances, around their centre) minus the person's mean; 0
    where no face was seen."""
    return np.nan_to_num((np.asarray(shapes, np.float32) - mean).reshape(len(shapes), -1)).astype(np.float32)


def whitened_basis(moving: np.ndarray, components: int) -> torch.Tensor:
    """float32[components, 80]: the main directions of the lips' motion over `moving` (float32[N,
    80]), each scaled so that its projection has unit spread: the expert then reads the person's
    small motions as clearly as the big ones."""
    centred = moving - moving.mean(axis=0)
    _, spreads, directions = np.linalg.svd(centred, full_matrices=False)
    scale = np.maximum(spreads[:components] / np.sqrt(max(1, len(centred))), 1e-6)
    basis = np.zeros((components, moving.shape[1]), np.float32)
    basis[: len(scale)] = directions[:components] / scale[:, None]
    return torch.from_numpy(basis)


def frame_envelopes(envelopes: torch.Tensor, middles: np.ndarray, window: int, fps: float) -> torch.Tensor:
    """float32[len(middles), window, 28]: the band envelopes (rows at 50 Hz) at the frames of each
    window whose middle sounds at frame `middles` (fractional frames allowed), the two rows of each
    frame's 40 ms averaged, so any frame rate gives the network a row a frame."""
    frames = np.asarray(middles, np.float64)[:, None] + np.arange(window)[None] - window // 2
    index = features.window_index(frames.reshape(-1), fps, len(envelopes), context=1)
    return envelopes[torch.from_numpy(index)].mean(dim=1).reshape(len(frames), window, -1)


def window_starts(frames: np.ndarray, count: int, window: int) -> np.ndarray:
    """First frames of the windows whose frames are all in `frames`."""
    member = np.zeros(count + window, dtype=bool)
    member[frames] = True
    whole = np.ones(count, dtype=bool)
    for k in range(window):
        whole &= member[k : k + count]
    return np.flatnonzero(whole)


def pairs(starts: np.ndarray, frames: np.ndarray, count: int, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(window starts, audio frames, labels): half in sync, a quarter offset 5-15 frames, a quarter
    from anywhere in `frames` at least 5 frames away."""
    chosen = starts[rng.integers(0, len(starts), count)]
    middle = chosen + window // 2
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


def prepare(setup: Setup) -> Trainable:
    config = configured(DEFAULTS, setup.config)
    torch.manual_seed(int(setup.rng.integers(2**31)))
    setup.progress(0.0, "reading the training set and measuring its sound")
    dataset = lipdata.load(setup.training_set, setup.materials, 8)
    window = int(config["window"])
    shapes = lipdata.eye_shapes(dataset.landmarks)
    mean = np.nanmean(shapes[dataset.train], axis=0).astype(np.float32)
    moving = torch.from_numpy(motion(shapes, mean))
    net = SyncNet(int(config["components"]), int(config["trajectories"]), noise=float(config["noise"]))
    net.basis.copy_(whitened_basis(moving[dataset.train].numpy(), int(config["components"])))
    net = net.to(setup.device)
    optimizer, schedule = optimizer_and_schedule(net, float(config["lr"]), int(config["iterations"]), float(config["weight_decay"]))
    count = len(dataset.lips)
    train_starts, held_starts = window_starts(dataset.train, count, window), window_starts(dataset.held_out, count, window)
    size = int(config["batch_size"])
    setup.progress(1.0, f"syncnet ready: {parameter_count(net)} parameters, {len(train_starts)} training windows")

    def batch(starts: np.ndarray, audio: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        lips = moving[torch.from_numpy(starts[:, None] + np.arange(window)[None])]
        sound = frame_envelopes(dataset.envelopes, audio - dataset.offset, window, dataset.fps)
        return sound.to(setup.device), lips.to(setup.device)

    def step(iteration: int) -> dict[str, float]:
        net.train()
        starts, audio, labels = pairs(train_starts, dataset.train, size, window, setup.rng)
        logits = net(*batch(starts, audio))
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
        starts, audio, labels = pairs(held_starts, dataset.held_out, EVAL_PAIRS, window, eval_rng())
        logits = torch.cat([net(*batch(starts[i : i + 128], audio[i : i + 128])).cpu() for i in range(0, len(starts), 128)])
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(labels))
        accuracy = float(((logits > 0).float().numpy() == labels).mean())
        return {"held_out_loss": float(loss), "held_out_accuracy": accuracy}

    def export(path: Path) -> dict:
        accuracy = evaluate()["held_out_accuracy"]
        save_model(path, NAME, config, net.state_dict(), {"mean_shape": torch.from_numpy(mean), "held_out_accuracy": accuracy})
        return {"submodel": NAME, "preset": config.get("preset", ""), "crop_size": dataset.crop_size,
                "iterations": int(config["iterations"]), "parameters": parameter_count(net), "window": window, "held_out_accuracy": accuracy}

    return Trainable({"syncnet": net}, {"syncnet": optimizer}, {"syncnet": schedule}, size, step, evaluate, export)


def load(path: Path) -> tuple[SyncNet, dict]:
    """The frozen sync expert and the rest of its file (config, the person's mean lip shape)."""
    saved = load_model(path, NAME)
    config = saved["config"]
    if "components" not in config:
        raise StageFailed("outdated_model", "this sync expert was trained by an earlier version, whose network reads Whisper rows",
                          "train the avatar again from its sync expert (retrain syncnet)")
    net = SyncNet(int(config["components"]), int(config["trajectories"]))
    net.load_state_dict(saved["weights"])
    net.eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net, saved
