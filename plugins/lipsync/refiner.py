"""The refiner: sharpens the generator's lower face. It trains on the frozen generator's own
outputs (level N's inference is level N+1's training data) against the real pictures, with L1 and
a loss on image gradients, so it learns to undo the generator's particular blur around the mouth
and teeth rather than a generic sharpening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from plugins.lipsync import data as lipdata
from plugins.lipsync import generator as gen
from plugins.lipsync.common import brightness, configured, eval_rng, load_model, optimizer_and_schedule, save_model, upstream
from plugins.lipsync.nets import Refiner, image_gradient_l1, parameter_count
from plugins.sdk.training import Setup, Trainable

NAME = "refiner"
DEFAULTS = {"iterations": 400, "batch_size": 16, "lr": 3e-3, "channels": 32, "blocks": 4, "gradient_weight": 1.0}
EVAL_FRAMES = 64


def sharpness(images: torch.Tensor) -> float:
    """Mean variance of the Laplacian of the grey pictures."""
    grey = images.mean(dim=1, keepdim=True)
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    return float(F.conv2d(grey, kernel.to(grey.device)).var(dim=(1, 2, 3)).mean())


def prepare(setup: Setup) -> Trainable:
    config = configured(DEFAULTS, setup.config)
    torch.manual_seed(int(setup.rng.integers(2**31)))
    generator, saved = gen.load(upstream(setup.upstream, "generator", NAME))
    generator = generator.to(setup.device)
    size, top = int(saved["config"]["size"]), float(saved["mask_top"])
    setup.progress(0.0, "reading the training set and encoding its sound")
    dataset = lipdata.load(setup.training_set, setup.materials, size)
    net = Refiner(int(config["channels"]), int(config["blocks"])).to(setup.device)
    optimizer, schedule = optimizer_and_schedule(net, float(config["lr"]), int(config["iterations"]))
    batch_size = int(config["batch_size"])
    gradient_weight = float(config["gradient_weight"])
    setup.progress(1.0, f"refiner ready: {parameter_count(net)} parameters")

    @torch.no_grad()
    def generated(frames: np.ndarray, rng: np.random.Generator, augment: bool) -> tuple[torch.Tensor, torch.Tensor]:
        real = dataset.lower_float(frames)
        reference = dataset.lower_float(dataset.train[rng.integers(0, len(dataset.train), len(frames))])
        if augment:
            gain = brightness(rng, len(frames))
            real, reference = (real * gain).clamp(0, 1), (reference * gain).clamp(0, 1)
        device = setup.device
        maps = gen.lip_map_tensor(dataset.lips[frames], size).to(device)
        fake = generator(gen.masked(real, top).to(device), reference.to(device), maps, dataset.audio(frames).to(device))
        return real.to(device), fake

    def losses(real: torch.Tensor, refined: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.l1_loss(gen.region(refined, top), gen.region(real, top)), image_gradient_l1(gen.region(refined, top), gen.region(real, top))

    def step(iteration: int) -> dict[str, float]:
        net.train()
        frames = dataset.train[setup.rng.integers(0, len(dataset.train), batch_size)]
        real, fake = generated(frames, setup.rng, augment=True)
        l1, gradient = losses(real, net(fake))
        loss = l1 + gradient_weight * gradient
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss.item(), "l1_masked": l1.item(), "gradient": gradient.item(), "lr": optimizer.param_groups[0]["lr"]}

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        net.eval()
        rng = eval_rng()
        frames = dataset.held_out[rng.integers(0, len(dataset.held_out), EVAL_FRAMES)]
        real, fake = generated(frames, rng, augment=False)
        refined = net(fake)
        l1, gradient = losses(real, refined)
        before_l1, before_gradient = losses(real, fake)
        truth = sharpness(gen.region(real, top))
        return {
            "held_out_l1_masked": float(l1), "held_out_gradient": float(gradient),
            "generator_l1_masked": float(before_l1), "generator_gradient": float(before_gradient),
            "sharpness_vs_real": sharpness(gen.region(refined, top)) / max(truth, 1e-9),
            "generator_sharpness_vs_real": sharpness(gen.region(fake, top)) / max(truth, 1e-9),
        }

    def export(path: Path) -> dict:
        save_model(path, NAME, config, net.state_dict(), {})
        return {"submodel": NAME, "preset": config.get("preset", ""), "crop_size": dataset.crop_size,
                "iterations": int(config["iterations"]), "parameters": parameter_count(net)}

    return Trainable({"refiner": net}, {"refiner": optimizer}, {"refiner": schedule}, batch_size, step, evaluate, export)


def load(path: Path) -> Refiner:
    saved = load_model(path, NAME)
    net = Refiner(int(saved["config"]["channels"]), int(saved["config"]["blocks"]))
    net.load_state_dict(saved["weights"])
    net.eval()
    return net
