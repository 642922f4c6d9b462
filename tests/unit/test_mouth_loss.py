"""The generator's mouth term looks only at the lips the map draws and what is next to them."""

from __future__ import annotations

import numpy as np
import torch

from plugins.lipsync.generator import MOUTH_REACH, lip_map_tensor, mouth_l1


def lips(opening: float) -> np.ndarray:
    """40 lip points in box units: an outer ellipse (20) and an inner one (20) of the given height."""
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    outer = np.stack([0.5 + 0.2 * np.cos(angles), 0.6 + 0.08 * np.sin(angles)], axis=1)
    inner = np.stack([0.5 + 0.15 * np.cos(angles), 0.6 + opening * np.sin(angles)], axis=1)
    return np.concatenate([outer, inner])[None].astype(np.float32)


def test_only_the_mouth_counts() -> None:
    maps = lip_map_tensor(lips(0.04), 48)
    real = torch.full((1, 3, 48, 48), 0.5)
    far = real.clone()
    far[..., :10, :] = 1.0  # the forehead side of the box changed: no mouth there
    assert mouth_l1(far, real, maps).item() == 0.0
    near = real.clone()
    rows = maps.amax(dim=1)[0].nonzero()[:, 0]
    near[..., int(rows.min()) : int(rows.max()) + 1, :] = 0.0  # the mouth drawn dark
    assert mouth_l1(near, real, maps).item() > 0.3


def test_the_area_reaches_just_past_the_drawn_lips() -> None:
    """Lip edges drawn a pixel too low or too high are part of what the term corrects."""
    maps = lip_map_tensor(lips(0.04), 48)
    drawn = maps.amax(dim=1)[0] > 0
    below = int(drawn.nonzero()[:, 0].max()) + MOUTH_REACH
    column = int(drawn[below - MOUTH_REACH].nonzero()[0, 0])
    real = torch.zeros((1, 3, 48, 48))
    edge = real.clone()
    edge[..., below, column] = 1.0
    beyond = real.clone()
    beyond[..., below + MOUTH_REACH + 1 :, :] = 1.0
    assert mouth_l1(edge, real, maps).item() > 0 and mouth_l1(beyond, real, maps).item() == 0.0
