"""The generator: draws the person's lower face with the mouth the lip map asks for.

Trained with the real lips of each frame (landmarks to appearance is well posed and learns from
little data); at inference it gets audio2lip's. The lower face is masked from just above the upper
lip down, so the mouth and jaw must come from the map, the reference picture (another frame of the
same person: teeth, skin, lighting) and the audio. Losses: L1 on the whole picture, more L1 on the
masked part, more again on the lips and the opening the map draws, and L1 on image gradients there
(against blur). Whether the mouth moves with the sound is decided upstream, by the lips audio2lip
predicts (trained against the sync expert); a pixel expert as this network's loss, when the
expert was one, told sync from chance no better than a coin and pushed towards noise. Training
frames are drawn one by one, not in windows of five, so a batch sees more of the person. The mouth
term is there because the other losses are
dominated by skin and jaw: without it the drawn mouth opened about 40 % less than its map asked
(congress_60s_256, 1000 steps, the real lips as the map: opening spread 0.021 against the real
0.034, lip distance to the real mouth 1.29 % of the eye distance); weight 4 gave 0.026 and 1.09, and
1.61 -> 1.53 with audio2lip's lips (weights 8 and 16 gained no more). The audio encoder
starts from audio2lip's, which already maps Whisper rows to mouth shapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from plugins.lipsync import audio2lip
from plugins.lipsync import data as lipdata
from plugins.lipsync.common import (
    brightness, configured, eval_rng, iterations_for, load_model, optimizer_and_schedule, save_model, upstream,
)
from plugins.lipsync.nets import Generator, image_gradient_l1, parameter_count
from plugins.sdk.training import Setup, Trainable

NAME = "generator"
DEFAULTS = {
    "iterations": 1500, "batch_size": 20, "lr": 2e-3, "channels": 16, "size": 48,
    "masked_weight": 2.0, "gradient_weight": 0.5, "mouth_weight": 4.0,
}
MOUTH_REACH = 2  # pixels around the drawn lips that count as the mouth for mouth_weight
MASK_MARGIN = 0.12  # of the box side above the highest mean lip point
EVAL_FRAMES = 120
REFERENCE_PERCENTILE = 75  # the reference shows the mouth somewhat open: teeth and inner lips


def mask_top(dataset: lipdata.Dataset) -> float:
    """Where the mask starts, as a fraction of the lower-face side."""
    top = float(np.nanmean(dataset.lips[dataset.train, :, 1].min(axis=1)))
    return max(0.05, top - MASK_MARGIN)


def masked(lower: torch.Tensor, top: float) -> torch.Tensor:
    out = lower.clone()
    out[..., int(round(top * lower.shape[-2])) :, :] = 0.0
    return out


def region(lower: torch.Tensor, top: float) -> torch.Tensor:
    return lower[..., int(round(top * lower.shape[-2])) :, :]


def mouth_l1(fake: torch.Tensor, real: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """L1 over the lips and the opening only (the lip map, a little widened). The whole-region L1 is
    dominated by skin and jaw, so a mouth drawn a little too closed costs almost nothing there; this
    term is what makes the drawn opening as wide as the map asks."""
    area = F.max_pool2d(maps.amax(dim=1, keepdim=True), 2 * MOUTH_REACH + 1, stride=1, padding=MOUTH_REACH)
    return ((fake - real).abs() * area).sum() / (area.sum() * fake.shape[1]).clamp_min(1.0)


def lip_map_tensor(lips: np.ndarray, size: int) -> torch.Tensor:
    return torch.from_numpy(lipdata.lip_maps(lips, size))


def pick_reference(dataset: lipdata.Dataset) -> int:
    opening = lipdata.opening(dataset.lips[dataset.train])
    target = np.percentile(opening, REFERENCE_PERCENTILE)
    return int(dataset.train[np.argmin(np.abs(opening - target))])


def prepare(setup: Setup) -> Trainable:
    config = configured(DEFAULTS, setup.config)
    torch.manual_seed(int(setup.rng.integers(2**31)))
    lips_net, lips_file = audio2lip.load(upstream(setup.upstream, "audio2lip", NAME))
    setup.progress(0.0, "reading the training set and encoding its sound")
    size = int(config["size"])
    dataset = lipdata.load(setup.training_set, setup.materials, size)
    net = Generator(int(config["channels"]), int(lips_file["config"]["audio_channels"]), int(lips_file["config"]["embed"]))
    net.audio.load_state_dict(lips_net.audio.state_dict())
    net = net.to(setup.device, memory_format=torch.channels_last)  # about a third faster on a CPU
    iterations = iterations_for(config, len(dataset.train))
    optimizer, schedule = optimizer_and_schedule(net, float(config["lr"]), iterations)
    top = mask_top(dataset)
    batch_size = int(config["batch_size"])
    weights = {k: float(config[k]) for k in ("masked_weight", "gradient_weight", "mouth_weight")}
    setup.progress(1.0, f"generator ready: {parameter_count(net)} parameters, {len(dataset.train)} training frames, {iterations} steps")

    def inputs(frames: np.ndarray, rng: np.random.Generator, augment: bool):
        real = dataset.lower_float(frames)
        reference = dataset.lower_float(dataset.train[rng.integers(0, len(dataset.train), len(frames))])
        if augment:
            gain = brightness(rng, len(frames))
            real, reference = (real * gain).clamp(0, 1), (reference * gain).clamp(0, 1)
        maps = lip_map_tensor(dataset.lips[frames], size)
        device = setup.device
        return real.to(device), masked(real, top).to(device), reference.to(device), maps.to(device), dataset.audio(frames).to(device)

    def losses(real, fake, maps) -> dict[str, torch.Tensor]:
        whole = F.l1_loss(fake, real)
        mouth = mouth_l1(fake, real, maps)
        lower = F.l1_loss(region(fake, top), region(real, top))
        gradient = image_gradient_l1(region(fake, top), region(real, top))
        total = whole + weights["masked_weight"] * lower + weights["gradient_weight"] * gradient + weights["mouth_weight"] * mouth
        return {"loss": total, "l1": whole, "l1_masked": lower, "gradient": gradient, "mouth": mouth}

    def step(iteration: int) -> dict[str, float]:
        net.train()
        frames = dataset.train[setup.rng.integers(0, len(dataset.train), batch_size)]
        real, hidden, reference, maps, rows = inputs(frames, setup.rng, augment=True)
        found = losses(real, net(hidden, reference, maps, rows), maps)
        optimizer.zero_grad(set_to_none=True)
        found["loss"].backward()
        optimizer.step()
        schedule.step()
        return {**{k: v.item() for k, v in found.items()}, "lr": optimizer.param_groups[0]["lr"]}

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        net.eval()
        rng = eval_rng()
        chosen = dataset.held_out[rng.integers(0, len(dataset.held_out), EVAL_FRAMES)]
        totals: dict[str, float] = {}
        parts = [chosen[i : i + batch_size] for i in range(0, len(chosen), batch_size)]
        for part in parts:
            real, hidden, reference, maps, rows = inputs(part, rng, augment=False)
            found = losses(real, net(hidden, reference, maps, rows), maps)
            copy = F.l1_loss(region(reference, top), region(real, top))
            for key, value in {**{k: float(v) for k, v in found.items()}, "copy_reference_l1_masked": float(copy)}.items():
                totals[key] = totals.get(key, 0.0) + value
        return {f"held_out_{k}": v / len(parts) for k, v in totals.items()}

    def export(path: Path) -> dict:
        reference = torch.from_numpy(np.ascontiguousarray(dataset.lower[pick_reference(dataset)].numpy()))
        extras = {**dataset.geometry.tensors(), "mask_top": top, "reference": reference}
        save_model(path, NAME, {**config, "audio_channels": int(lips_file["config"]["audio_channels"]),
                                "embed": int(lips_file["config"]["embed"])}, net.state_dict(), extras)
        return {"submodel": NAME, "preset": config.get("preset", ""), "crop_size": dataset.crop_size,
                "iterations": iterations, "parameters": parameter_count(net)}

    return Trainable({"generator": net}, {"generator": optimizer}, {"generator": schedule}, batch_size, step, evaluate, export, iterations)


def load(path: Path) -> tuple[Generator, dict]:
    """The generator (eval mode, frozen) and the rest of its file: config, geometry, mask, reference."""
    saved = load_model(path, NAME)
    config = saved["config"]
    net = Generator(int(config["channels"]), int(config["audio_channels"]), int(config["embed"]))
    net.load_state_dict(saved["weights"])
    net = net.to(memory_format=torch.channels_last)
    net.eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net, saved
