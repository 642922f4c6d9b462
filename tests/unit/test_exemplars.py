"""The refiner's exemplars: a bank that spans the person's mouth shapes, the nearest shape found
whatever the mouth's place, never a frame's own picture in training, placed where the drawn lips
lie; and a refiner that draws from one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plugins.lipsync import exemplars
from plugins.lipsync.nets import Refiner


def mouths(openings: np.ndarray, centre: tuple[float, float] = (0.5, 0.6)) -> np.ndarray:
    """float32[N, 40, 2] box units: an ellipse of lips per opening, around `centre`."""
    angle = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    outer = np.stack([0.2 * np.cos(angle), 0.02 * np.sin(angle)], axis=1)
    lips = np.repeat(np.concatenate([outer, outer * 0.8])[None], len(openings), axis=0).astype(np.float32)
    lips[:, :, 1] *= 1 + np.asarray(openings, np.float32)[:, None] * 10
    return lips + np.asarray(centre, np.float32)


def test_the_bank_spans_the_shapes_from_the_closed_to_the_widest_open() -> None:
    openings = np.concatenate([np.zeros(50), np.linspace(0, 1, 50)])
    lips = mouths(openings)
    bank = exemplars.pick_bank(lips, np.arange(100), 5)
    assert len(bank) == 5 and np.all(np.diff(bank) > 0)
    assert openings[bank].max() == 1.0 and openings[bank].min() == 0.0
    np.testing.assert_array_equal(exemplars.pick_bank(lips, np.arange(3), 5), np.arange(3))  # fewer frames than asked: all


def test_the_nearest_shape_is_found_wherever_the_mouth_lies_and_never_a_banned_one() -> None:
    bank_lips = mouths(np.array([0.0, 0.5, 1.0]))
    asked = mouths(np.array([0.45, 0.95]), centre=(0.3, 0.7))  # moved: the shape alone counts
    np.testing.assert_array_equal(exemplars.nearest(bank_lips, asked), [1, 2])
    near = exemplars.too_close(np.array([100, 7]), np.array([10, 98, 300]), gap=3)
    np.testing.assert_array_equal(near, [[False, True, False], [True, False, False]])
    np.testing.assert_array_equal(exemplars.nearest(bank_lips, asked, np.array([[False, True, False], [True, True, True]])), [0, 2])


def test_the_exemplar_is_moved_so_that_its_lips_lie_on_the_drawn_ones() -> None:
    side = 64
    picture = np.zeros((1, side, side, 3), np.uint8)
    picture[0, 30:34, 28:36] = 255  # the recorded mouth, around (32, 32)
    bank_lips = mouths(np.array([0.0]), centre=(0.5, 0.5))
    placed = exemplars.placed(picture, bank_lips, mouths(np.array([0.0]), centre=(0.5 + 8 / side, 0.5 + 4 / side)))
    assert placed.shape == (1, 4, side, side) and placed.dtype == torch.float32
    rows, cols = np.nonzero(placed[0, 0].numpy() > 0.5)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (34, 37, 36, 43)
    window = placed[0, 3].numpy()  # over the drawn lips (0.4 box widths, 25.6 px wide), none by the chin or the collar
    across, down = (0.4 * side * half for half in exemplars.WINDOW)
    assert window[36, 40] == 1.0 and window[36, 40 + int(0.6 * across)] == 1.0 and window[36 + int(0.6 * down), 40] == 1.0
    assert window[36, 40 - int(1.1 * across)] < 0.5 and window[36 - int(1.4 * down), 40] == 0.0


def test_the_exemplar_is_stretched_to_the_drawn_lips_shape_within_bounds() -> None:
    side = 64
    picture = np.zeros((1, side, side, 3), np.uint8)
    picture[0, 30:34, 24:40] = 255  # a recorded mouth 16 px wide around (32, 32)
    bank_lips = mouths(np.array([0.0]), centre=(0.5, 0.5))

    def bright_width(target: np.ndarray) -> int:
        cols = np.nonzero(exemplars.placed(picture, bank_lips, target)[0, 0].numpy()[32] > 0.5)[0]
        return int(cols.max() - cols.min() + 1)

    wider = bank_lips.copy()
    wider[..., 0] = 0.5 + (wider[..., 0] - 0.5) * 1.2  # lips drawn a fifth wider: the teeth and edges follow them
    assert bright_width(wider) in (19, 20)
    far = bank_lips.copy()
    far[..., 0] = 0.5 + (far[..., 0] - 0.5) * 2.0  # a shape far off is moved, not torn: at most STRETCH[1] wider
    assert bright_width(far) <= round(16 * exemplars.STRETCH[1]) + 1
    matrix = exemplars.lips_onto(bank_lips[0], bank_lips[0] + 0.1, side)  # the same shape elsewhere: moved only
    np.testing.assert_allclose(matrix, [[1, 0, 6.4], [0, 1, 6.4]], atol=1e-4)


def test_a_refiner_with_an_exemplar_adds_its_detail_not_its_colours_and_refuses_without_one() -> None:
    net = Refiner(8, 2, 2, exemplar=True).eval()
    image = torch.rand(2, 3, 16, 16)
    upsampled = torch.nn.functional.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)
    everywhere = torch.ones(2, 1, 32, 32)
    flat = torch.cat([torch.full((2, 3, 32, 32), 0.7), everywhere], dim=1)
    assert torch.allclose(net(image, flat), upsampled.clamp(0, 1), atol=1e-5)  # an exemplar without detail adds nothing
    checks = torch.zeros(2, 3, 32, 32)
    checks[..., ::2, ::2] = 1.0
    checks[..., 1::2, 1::2] = 1.0
    grey = torch.full((2, 3, 16, 16), 0.5)
    with torch.no_grad():
        drawn = net(grey, torch.cat([checks * 0.4 + 0.3, everywhere], dim=1))  # fine detail around 0.5: the gate lets most of it through
    assert drawn.shape == (2, 3, 32, 32)
    assert 0.1 < (drawn - 0.5).abs().mean() < 0.2
    assert abs(float(drawn.mean()) - 0.5) < 0.02  # the detail, not the exemplar's brightness
    with torch.no_grad():
        outside = net(grey, torch.cat([checks * 0.4 + 0.3, torch.zeros_like(everywhere)], dim=1))
    assert (outside - 0.5).abs().max() < 1e-5  # nothing outside its window
    with pytest.raises(ValueError, match="exemplar"):
        net(image)
