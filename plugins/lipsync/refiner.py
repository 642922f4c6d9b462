"""The refiner: draws the generator's lower face sharp, at the person's own resolution.

The generator works small (64 px at draft) and its L1 losses average the plausible mouths into a
soft one: no teeth, no lip edges (on a person the project never saw, a third of the real
recording's mouth sharpness). The refiner is trained on the frozen generator's own outputs (level
N's inference is level N+1's training data: the generator's answer for every training frame, made
once, with the very reference picture it renders with) against the person's real lower face at
their own resolution (the training set's `lower`, cut from the full frame by the crop stage), so it
learns to undo this generator's blur on this face and to draw it `scale` times larger: x3 on a
close-up, x2 on a 256 px video. Losses: L1 and L1 on image gradients against the real picture,
and a small patch critic (hinge loss) that tells real lower faces from drawn ones; on random
patches of the drawn part, so that a step costs the same whatever the resolution. An older training
set without `lower` trains it at the generator's size against the crops, as before.

Those losses alone did not bring the teeth and lip edges back in minutes of training; the person's
own recorded mouths do: beside the generator's picture the refiner gets the bank frame whose lips
are shaped most like the ones drawn (plugins/lipsync/exemplars.py), and adds its fine detail over
the mouth where a learnt gate lets it. The bank is stored in the refiner's file for the render.
Its evaluation measures what the verdict measures: the box around the lips, also on renders over
the driving clip (`render_sharpness_vs_real`), which are softer than its training pictures.

At export the face mesh measures how far the drawn mouth opens against the recorded one whose lips
were its map, drawn over the driving clip as a render draws it: the graph asks for that much more,
so that the rendered mouth moves as far as the person's (plugins/lipsync/graph.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from plugins.face_track.mesh import mesh_points, new_mesh
from plugins.lipsync import data as lipdata
from plugins.lipsync import exemplars
from plugins.lipsync import generator as gen
from plugins.lipsync.driving import chosen_clip
from plugins.lipsync.common import (
    brightness, configured, eval_rng, iterations_for, load_model, optimizer_and_schedule, save_model, upstream,
)
from plugins.lipsync.nets import PatchCritic, Refiner, image_gradient_l1, parameter_count
from plugins.sdk.training import Setup, Trainable

NAME = "refiner"
DEFAULTS = {
    "iterations": 400, "batch_size": 16, "lr": 3e-3, "channels": 32, "blocks": 4, "gradient_weight": 1.0,
    "adversarial_weight": 0.05, "critic_channels": 32, "critic_lr": 2e-4, "patch": 96, "most_scale": 4,
    "exemplars": 96, "exemplar_gap": 12,
}
EVAL_FRAMES = 48
GENERATE_BATCH = 64
DRAWN_FRAMES = 64  # held-out frames whose drawn mouths the face mesh measures at export
VIEW = 3  # the crops are shown to the face mesh this many times larger, as a frame shows a face


LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
LIPS_BOX = (1.2, 0.55)  # the box whose sharpness counts: 1.2 times the outer lips' width, 0.55 times as high as wide


def sharpness(images: torch.Tensor) -> float:
    """Mean variance of the Laplacian of the grey pictures."""
    grey = images.mean(dim=1, keepdim=True)
    return float(F.conv2d(grey, LAPLACIAN.to(grey.device)).var(dim=(1, 2, 3)).mean())


def lips_sharpness(images: torch.Tensor, lips: np.ndarray) -> float:
    """Mean variance of the Laplacian over the box around each picture's lips (`lips` in box
    units): what the verdict measures (plugins/evaluation/measures.py), not the cheeks and chin
    around it, which a blurred mouth keeps sharp."""
    side = images.shape[-1]
    outer = np.asarray(lips)[:, exemplars.OUTER] * side
    values = []
    for image, points in zip(images, outer):
        width = LIPS_BOX[0] * float(points[:, 0].max() - points[:, 0].min())
        (cx, cy), half = points.mean(axis=0), np.array([width, width * LIPS_BOX[1]]) / 2
        x0, y0 = np.clip(np.round([cx - half[0], cy - half[1]]), 0, side - 3).astype(int)
        x1, y1 = np.clip(np.round([cx + half[0], cy + half[1]]), [x0 + 3, y0 + 3], side).astype(int)
        values.append(sharpness(image[None, :, y0:y1, x0:x1]))
    return float(np.mean(values))


def scale_for(native: int | None, size: int, most: int) -> int:
    """How many times the generator's size the refiner draws: the person's own resolution, rounded."""
    return 1 if native is None else int(np.clip(round(native / size), 1, most))


def real_pictures(dataset: lipdata.Dataset, frames: np.ndarray, side: int) -> np.ndarray:
    """uint8[B, side, side, 3]: the real lower faces at the drawn size (the own-resolution ones
    where the training set has them)."""
    if dataset.native is None:
        return dataset.lower[torch.from_numpy(np.asarray(frames))].numpy()
    pictures = np.asarray(dataset.native[np.asarray(frames)])
    if pictures.shape[1] != side:
        shrink = cv2.INTER_AREA if pictures.shape[1] > side else cv2.INTER_LINEAR
        pictures = np.stack([cv2.resize(p, (side, side), interpolation=shrink) for p in pictures])
    return pictures


def targets(dataset: lipdata.Dataset, frames: np.ndarray, side: int) -> torch.Tensor:
    """float32[B, 3, side, side] in [0, 1]: real_pictures as the networks take them."""
    return torch.from_numpy(real_pictures(dataset, frames, side)).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def generated(generator: torch.nn.Module, saved: dict, dataset: lipdata.Dataset, frames: np.ndarray, device: torch.device) -> np.ndarray:
    """uint8[len(frames), G, G, 3]: the generator's answer for each frame from its real lips, with
    the reference picture it renders with."""
    size, top = int(saved["config"]["size"]), float(saved["mask_top"])
    reference = saved["reference"].permute(2, 0, 1).float()[None].to(device) / 255.0
    out = np.empty((len(frames), size, size, 3), np.uint8)
    for first in range(0, len(frames), GENERATE_BATCH):
        part = frames[first : first + GENERATE_BATCH]
        real = dataset.lower_float(part).to(device)
        maps = gen.lip_map_tensor(dataset.lips[part], size).to(device)
        made = generator(gen.masked(real, top), reference.expand(len(part), -1, -1, -1), maps, dataset.audio(part).to(device))
        out[first : first + len(part)] = (made.permute(0, 2, 3, 1).cpu().numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    return out


@torch.no_grad()
def over_driving_clip(generator: torch.nn.Module, saved: dict, dataset: lipdata.Dataset, materials: dict, count: int,
                      device: torch.device) -> tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
    """(held-out frames, driving frames, lips, the generator's pictures): `count` held-out frames'
    recorded lips drawn over the driving clip's frames, as a render draws them (the clip's calm
    mouths show above the generator's mask, and it leans on them), the lips moved to the driving
    frames' noses."""
    size, top = int(saved["config"]["size"]), float(saved["mask_top"])
    clip = chosen_clip(materials)
    held = dataset.held_out[:: max(1, len(dataset.held_out) // count)][:count]
    driving = np.arange(clip.start, clip.stop)[np.arange(len(held)) % clip.length]
    lips = dataset.lips[held] - dataset.anchor[held][:, None] + dataset.anchor[driving][:, None]
    reference = saved["reference"].permute(2, 0, 1).float()[None].to(device) / 255.0
    made = generator(gen.masked(dataset.lower_float(driving).to(device), top), reference.expand(len(held), -1, -1, -1),
                     gen.lip_map_tensor(lips, size).to(device), dataset.audio(held).to(device))
    return held, driving, lips, made


@dataclass(frozen=True)
class Bank:
    """The recorded lower faces the refiner copies detail from (plugins/lipsync/exemplars.py)."""

    frames: np.ndarray  # int64[K]: training frames
    pictures: np.ndarray  # uint8[K, S, S, 3] at the refiner's output size
    lips: np.ndarray  # float32[K, 40, 2] box units
    gap: int  # frames around a training frame whose pictures it never gets

    def for_lips(self, lips: np.ndarray, frames: np.ndarray | None = None) -> torch.Tensor:
        """float32[B, 4, S, S]: the exemplar of each of `lips` and its window; `frames` (training or held-out
        frames) never get themselves or their neighbours."""
        banned = None if frames is None else exemplars.too_close(frames, self.frames, self.gap)
        return exemplars.placed(self.pictures, self.lips, lips, banned)


def prepare(setup: Setup) -> Trainable:
    config = configured(DEFAULTS, setup.config)
    torch.manual_seed(int(setup.rng.integers(2**31)))
    generator, saved = gen.load(upstream(setup.upstream, "generator", NAME))
    generator = generator.to(setup.device)
    size, top = int(saved["config"]["size"]), float(saved["mask_top"])
    setup.progress(0.0, "reading the training set and encoding its sound")
    dataset = lipdata.load(setup.training_set, setup.materials, size)
    scale = scale_for(dataset.native_size, size, int(config["most_scale"]))
    side = size * scale
    frames = np.concatenate([dataset.train, dataset.held_out])
    setup.progress(0.3, "the generator draws every training frame once")
    drawn = dict(zip(frames.tolist(), generated(generator, saved, dataset, frames, setup.device)))
    bank = None
    if int(config["exemplars"]) > 0:
        chosen = exemplars.pick_bank(dataset.lips, dataset.train, int(config["exemplars"]))
        bank = Bank(chosen, real_pictures(dataset, chosen, side), dataset.lips[chosen], int(config["exemplar_gap"]))
    net = Refiner(int(config["channels"]), int(config["blocks"]), scale, bank is not None)
    net = net.to(setup.device, memory_format=torch.channels_last)
    critic = PatchCritic(int(config["critic_channels"])).to(setup.device, memory_format=torch.channels_last)
    iterations = iterations_for(config, len(dataset.train))
    optimizer, schedule = optimizer_and_schedule(net, float(config["lr"]), iterations)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=float(config["critic_lr"]), betas=(0.5, 0.999))
    batch_size = int(config["batch_size"])
    weights = {k: float(config[k]) for k in ("gradient_weight", "adversarial_weight")}
    patch = min(size, max(16, int(config["patch"]) // scale))  # input pixels; the drawn patch is `scale` times that
    first_row = min(size - patch, int(round(top * size)))  # patches from the drawn part of the lower face
    found_bank = "" if bank is None else f", {len(bank.frames)} of the person's mouths to draw from"
    setup.progress(1.0, f"refiner ready: {parameter_count(net)} parameters, x{scale} to {side} px{found_bank}")

    def exemplar_of(lips: np.ndarray, chosen: np.ndarray | None) -> torch.Tensor | None:
        return None if bank is None else bank.for_lips(lips, chosen).to(setup.device)

    def refine(fake: torch.Tensor, exemplar: torch.Tensor | None) -> torch.Tensor:
        parts = [net(fake[i : i + 8], None if exemplar is None else exemplar[i : i + 8]) for i in range(0, len(fake), 8)]
        return torch.cat(parts)

    def pictures(chosen: np.ndarray, rng: np.random.Generator, augment: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        fake = torch.from_numpy(np.stack([drawn[int(f)] for f in chosen])).permute(0, 3, 1, 2).float().to(setup.device) / 255.0
        real, exemplar = targets(dataset, chosen, side).to(setup.device), exemplar_of(dataset.lips[chosen], chosen)
        if augment:  # the same light on all three pictures; the exemplar's window stays
            gain = brightness(rng, len(chosen)).to(setup.device)
            fake, real = (fake * gain).clamp(0, 1), (real * gain).clamp(0, 1)
            if exemplar is not None:
                exemplar = torch.cat([(exemplar[:, :3] * gain).clamp(0, 1), exemplar[:, 3:]], dim=1)
        return fake, real, exemplar

    def crop_patches(fake: torch.Tensor, real: torch.Tensor, exemplar: torch.Tensor | None,
                     rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        ys = rng.integers(first_row, size - patch + 1, len(fake))
        xs = rng.integers(0, size - patch + 1, len(fake))

        def large(pictures: torch.Tensor) -> torch.Tensor:
            return torch.stack([r[:, y * scale : (y + patch) * scale, x * scale : (x + patch) * scale] for r, y, x in zip(pictures, ys, xs)])

        small = torch.stack([f[:, y : y + patch, x : x + patch] for f, y, x in zip(fake, ys, xs)])
        return small, large(real), None if exemplar is None else large(exemplar)

    def step(iteration: int) -> dict[str, float]:
        net.train()
        chosen = dataset.train[setup.rng.integers(0, len(dataset.train), batch_size)]
        small, large, exemplar = crop_patches(*pictures(chosen, setup.rng, augment=True), setup.rng)
        refined = net(small, exemplar)
        found = {"l1": F.l1_loss(refined, large), "gradient": image_gradient_l1(refined, large)}
        loss = found["l1"] + weights["gradient_weight"] * found["gradient"]
        if weights["adversarial_weight"] > 0:
            critic.train()
            critic_loss = F.relu(1.0 - critic(large)).mean() + F.relu(1.0 + critic(refined.detach())).mean()
            critic_optimizer.zero_grad(set_to_none=True)
            critic_loss.backward()
            critic_optimizer.step()
            found["critic"] = critic_loss
            found["adversarial"] = -critic(refined).mean()
            loss = loss + weights["adversarial_weight"] * found["adversarial"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss.item(), **{k: v.item() for k, v in found.items()}, "lr": optimizer.param_groups[0]["lr"]}

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        """On held-out frames drawn from their own lips over their own faces (against the real
        picture), and over the driving clip as a render draws them: the verdict's sharpness is
        the render's, whose generator pictures are softer than the ones the refiner trains on."""
        net.eval()
        rng = eval_rng()
        chosen = dataset.held_out[rng.integers(0, len(dataset.held_out), EVAL_FRAMES)]
        fake, real, exemplar = pictures(chosen, rng, augment=False)
        refined = refine(fake, exemplar)
        upsampled = F.interpolate(fake, size=(side, side), mode="bilinear", align_corners=False) if scale > 1 else fake
        drawn_part = int(round(top * side))
        truth = lips_sharpness(real, dataset.lips[chosen])
        held, _, lips, made = over_driving_clip(generator, saved, dataset, setup.materials, EVAL_FRAMES, setup.device)
        rendered = refine(made, exemplar_of(lips, held))
        return {
            "held_out_l1_masked": float(F.l1_loss(refined[..., drawn_part:, :], real[..., drawn_part:, :])),
            "generator_l1_masked": float(F.l1_loss(upsampled[..., drawn_part:, :], real[..., drawn_part:, :])),
            "sharpness_vs_real": lips_sharpness(refined, dataset.lips[chosen]) / max(truth, 1e-9),
            "generator_sharpness_vs_real": lips_sharpness(upsampled, dataset.lips[chosen]) / max(truth, 1e-9),
            "render_sharpness_vs_real": lips_sharpness(rendered, lips) / max(truth, 1e-9),
        }

    def export(path: Path) -> dict:
        gain, fit = drawn_gain(net, bank, generator, saved, dataset, setup.materials, setup.device)
        stored = {} if bank is None else {"exemplars": torch.from_numpy(bank.pictures), "exemplar_lips": torch.from_numpy(bank.lips)}
        save_model(path, NAME, {**config, "scale": scale}, net.state_dict(), {"drawn_gain": gain, "drawn_r": fit, **stored})
        return {"submodel": NAME, "preset": config.get("preset", ""), "crop_size": dataset.crop_size, "scale": scale, "side": side,
                "iterations": iterations, "parameters": parameter_count(net), "drawn_gain": gain, "drawn_r": fit,
                "exemplars": 0 if bank is None else len(bank.frames)}

    return Trainable({"refiner": net, "critic": critic}, {"refiner": optimizer, "critic": critic_optimizer}, {"refiner": schedule},
                     batch_size, step, evaluate, export, iterations)


@torch.no_grad()
def drawn_gain(net: Refiner, bank: Bank | None, generator: torch.nn.Module, saved: dict, dataset: lipdata.Dataset, materials: dict,
               device: torch.device) -> tuple[float, float]:
    """(gain, r): how far the drawn mouth opens for each unit the recorded one opened, and how well
    the two go together, as a render draws it (over the driving clip, whose calm mouths the
    generator leans on: over its own frame a mouth is drawn about as open as asked, over the
    driving clip about three quarters as open). The face mesh measures the drawn mouth on the
    driving crop it was put into, against the held-out frame's recorded opening. (0, 0) when the
    mesh finds too few faces to say."""
    net.eval()
    top = float(saved["mask_top"])
    held, driving, lips, made = over_driving_clip(generator, saved, dataset, materials, DRAWN_FRAMES, device)
    made = net(made, None if bank is None else bank.for_lips(lips, held).to(device))
    crop_size = dataset.faces.shape[1]
    x0, y0, side = (v * VIEW for v in dataset.geometry.square(crop_size))
    first = int(round(top * side))
    recorded, drawn = [], []
    mesh = new_mesh()
    try:
        for face, picture, frame in zip(np.asarray(dataset.faces[driving]), as_pictures(made), held):
            shown = cv2.resize(face, (crop_size * VIEW, crop_size * VIEW), interpolation=cv2.INTER_CUBIC)
            patch = cv2.resize(picture, (int(round(side)), int(round(side))), interpolation=cv2.INTER_CUBIC)
            rows = slice(int(round(y0)) + first, min(shown.shape[0], int(round(y0)) + patch.shape[0]))
            cols = slice(int(round(x0)), min(shown.shape[1], int(round(x0)) + patch.shape[1]))
            shown[rows, cols] = patch[first : first + rows.stop - rows.start, : cols.stop - cols.start]
            points = mesh_points(mesh, shown)
            if points is not None and np.isfinite(dataset.landmarks[frame]).all():
                recorded.append(float(lipdata.eye_opening(dataset.landmarks[frame][None])[0]))
                drawn.append(float(lipdata.eye_opening(points[None, :, :2])[0]))
    finally:
        mesh.close()
    if len(recorded) < DRAWN_FRAMES // 2 or np.std(recorded) < 1e-6:
        return 0.0, 0.0
    return float(np.std(drawn) / np.std(recorded)), float(np.corrcoef(recorded, drawn)[0, 1])


def as_pictures(images: torch.Tensor) -> np.ndarray:
    return (images.permute(0, 2, 3, 1).cpu().numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)


def load(path: Path) -> tuple[Refiner, dict]:
    """The refiner in eval mode and the rest of its file (config, `drawn_gain`, the exemplar bank
    `exemplars` and `exemplar_lips` when it draws from one). A file written
    before the refiner could draw larger holds one stack (`net.*`): the same layers as `body` and
    `out` at scale 1."""
    saved = load_model(path, NAME)
    weights = saved["weights"]
    if "net.0.weight" in weights:
        last = max(int(key.split(".")[1]) for key in weights)
        weights = {(f"out.{key.split('.')[2]}" if int(key.split(".")[1]) == last else key.replace("net.", "body.", 1)): value
                   for key, value in weights.items()}
    config = saved["config"]
    net = Refiner(int(config["channels"]), int(config["blocks"]), int(config.get("scale", 1)), "exemplar_lips" in saved)
    net.load_state_dict(weights)
    net = net.to(memory_format=torch.channels_last)
    net.eval()
    return net, saved
