"""The generator: draws the person's lower face with the mouth the lip map asks for.

Trained with the real lips of each frame (landmarks to appearance is well posed and learns from
little data); at inference it gets audio2lip's. The lower face is masked from just above the upper
lip down, so the mouth and jaw must come from the map, the reference picture (another frame of the
same person: teeth, skin, lighting) and the audio. Losses: L1 on the whole picture, more L1 on the
masked part, more again on the lips and the opening the map draws, L1 on image gradients there
(against blur), and the frozen sync expert on windows of 5 consecutive generated frames, which
pushes the mouth to move with the sound. The mouth term is there because the other losses are
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

from plugins.lipsync import audio2lip, syncnet
from plugins.lipsync import data as lipdata
from plugins.lipsync.common import brightness, configured, eval_rng, load_model, optimizer_and_schedule, save_model, upstream
from plugins.lipsync.nets import Generator, image_gradient_l1, parameter_count
from plugins.sdk.training import Setup, Trainable

NAME = "generator"
DEFAULTS = {
    "iterations": 1500, "batch_size": 20, "lr": 2e-3, "channels": 16, "size": 48,
    "masked_weight": 2.0, "gradient_weight": 0.5, "sync_weight": 0.03, "mouth_weight": 4.0,
}
MOUTH_REACH = 2  # pixels around the drawn lips that count as the mouth for mouth_weight
MASK_MARGIN = 0.12  # of the box side above the highest mean lip point
EVAL_WINDOWS = 24
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
    expert, expert_config = syncnet.load(upstream(setup.upstream, "syncnet", NAME))
    expert = expert.to(setup.device)
    setup.progress(0.0, "reading the training set and encoding its sound")
    size = int(config["size"])
    dataset = lipdata.load(setup.training_set, setup.materials, size)
    net = Generator(int(config["channels"]), int(lips_file["config"]["audio_channels"]), int(lips_file["config"]["embed"]))
    net.audio.load_state_dict(lips_net.audio.state_dict())
    net = net.to(setup.device)
    optimizer, schedule = optimizer_and_schedule(net, float(config["lr"]), int(config["iterations"]))
    top = mask_top(dataset)
    mouth_size = int(expert_config["mouth_size"])
    windows = max(1, int(config["batch_size"]) // lipdata.WINDOW)
    train_starts = dataset.window_starts(dataset.train)
    held_starts = dataset.window_starts(dataset.held_out)
    weights = {k: float(config[k]) for k in ("masked_weight", "gradient_weight", "sync_weight", "mouth_weight")}
    setup.progress(1.0, f"generator ready: {parameter_count(net)} parameters, {len(train_starts)} training windows")

    def inputs(starts: np.ndarray, rng: np.random.Generator, augment: bool):
        frames = (starts[:, None] + np.arange(lipdata.WINDOW)[None]).reshape(-1)
        real = dataset.lower_float(frames)
        reference = dataset.lower_float(dataset.train[rng.integers(0, len(dataset.train), len(frames))])
        if augment:
            gain = brightness(rng, len(starts)).repeat_interleave(lipdata.WINDOW, dim=0)
            real, reference = (real * gain).clamp(0, 1), (reference * gain).clamp(0, 1)
        maps = lip_map_tensor(dataset.lips[frames], size)
        device = setup.device
        return frames, real.to(device), masked(real, top).to(device), reference.to(device), maps.to(device), dataset.audio(frames).to(device)

    def losses(frames, real, fake, maps) -> dict[str, torch.Tensor]:
        whole = F.l1_loss(fake, real)
        mouth = mouth_l1(fake, real, maps)
        lower = F.l1_loss(region(fake, top), region(real, top))
        gradient = image_gradient_l1(region(fake, top), region(real, top))
        mouths = F.interpolate(fake, size=(mouth_size, mouth_size), mode="bilinear", align_corners=False, antialias=True)
        mouths = mouths.view(-1, lipdata.WINDOW, 3, mouth_size, mouth_size)
        middle = torch.from_numpy(frames.reshape(-1, lipdata.WINDOW)[:, lipdata.WINDOW // 2])
        logits = expert(dataset.audio(middle.numpy()).to(fake.device), syncnet.mouth_windows(mouths))
        sync = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        total = (whole + weights["masked_weight"] * lower + weights["gradient_weight"] * gradient + weights["sync_weight"] * sync
                 + weights["mouth_weight"] * mouth)
        return {"loss": total, "l1": whole, "l1_masked": lower, "gradient": gradient, "sync": sync, "mouth": mouth,
                "sync_probability": torch.sigmoid(logits).mean()}

    def step(iteration: int) -> dict[str, float]:
        net.train()
        starts = train_starts[setup.rng.integers(0, len(train_starts), windows)]
        frames, real, hidden, reference, maps, rows = inputs(starts, setup.rng, augment=True)
        found = losses(frames, real, net(hidden, reference, maps, rows), maps)
        optimizer.zero_grad(set_to_none=True)
        found["loss"].backward()
        optimizer.step()
        schedule.step()
        return {**{k: v.item() for k, v in found.items()}, "lr": optimizer.param_groups[0]["lr"]}

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        net.eval()
        rng = eval_rng()
        starts = held_starts[rng.integers(0, len(held_starts), EVAL_WINDOWS)]
        totals: dict[str, float] = {}
        for first in range(0, len(starts), 4):
            frames, real, hidden, reference, maps, rows = inputs(starts[first : first + 4], rng, augment=False)
            found = losses(frames, real, net(hidden, reference, maps, rows), maps)
            copy = F.l1_loss(region(reference, top), region(real, top))
            for key, value in {**{k: float(v) for k, v in found.items()}, "copy_reference_l1_masked": float(copy)}.items():
                totals[key] = totals.get(key, 0.0) + value
        parts = -(-len(starts) // 4)
        return {f"held_out_{k}": v / parts for k, v in totals.items()}

    def export(path: Path) -> dict:
        reference = torch.from_numpy(np.ascontiguousarray(dataset.lower[pick_reference(dataset)].numpy()))
        extras = {**dataset.geometry.tensors(), "mask_top": top, "reference": reference}
        save_model(path, NAME, {**config, "audio_channels": int(lips_file["config"]["audio_channels"]),
                                "embed": int(lips_file["config"]["embed"])}, net.state_dict(), extras)
        return {"submodel": NAME, "preset": config.get("preset", ""), "crop_size": dataset.crop_size,
                "iterations": int(config["iterations"]), "parameters": parameter_count(net)}

    return Trainable({"generator": net}, {"generator": optimizer}, {"generator": schedule}, windows * lipdata.WINDOW, step, evaluate, export)


def load(path: Path) -> tuple[Generator, dict]:
    """The generator (eval mode, frozen) and the rest of its file: config, geometry, mask, reference."""
    saved = load_model(path, NAME)
    config = saved["config"]
    net = Generator(int(config["channels"]), int(config["audio_channels"]), int(config["embed"]))
    net.load_state_dict(saved["weights"])
    net.eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net, saved
