"""Drawing the mouth at the person's own resolution and as far as they move it: the square cut at
a fractional place, the paste that resamples it once, the band envelopes, the refiner's shapes,
and the stretch of the lips to the person's own spread."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from plugins.lipsync import features
from plugins.lipsync.audio2lip import opening_delta
from plugins.lipsync.graph import MOST_STRETCH, LipSyncGraph
from plugins.lipsync.nets import Refiner
from plugins.lipsync import refiner as refiner_module
from plugins.lipsync.common import save_model
from plugins.lipsync.refiner import scale_for
from plugins.media.squares import cut_square, resample


def gradient_picture(height: int = 120, width: int = 160, smooth: float = 0.0) -> np.ndarray:
    """Noise (each pixel its own), or with `smooth` a picture whose detail spans a few pixels."""
    noise = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    if not smooth:
        return noise
    blurred = cv2.GaussianBlur(noise.astype(np.float32), (0, 0), smooth)
    return np.clip((blurred - blurred.mean()) * 8 + 128, 0, 255).astype(np.uint8)


def test_a_square_at_a_whole_pixel_is_cut_exactly_and_a_half_pixel_lands_between() -> None:
    frame = gradient_picture()
    np.testing.assert_array_equal(cut_square(frame, 10, 20, 30, 30), frame[20:50, 10:40])
    smooth = gradient_picture(smooth=3.0)  # detail a few pixels across, as a face's: between two pixels is their mean
    half = cut_square(smooth, 10.5, 20, 30, 30).astype(np.float32)
    left, right = smooth[20:50, 10:40].astype(np.float32), smooth[20:50, 11:41].astype(np.float32)
    off = np.abs(half[:, :-1] - ((left + right) / 2)[:, :-1])
    assert off.max() <= 4.0 and off.mean() < 0.1 * np.abs(left - right)[:, :-1].mean()
    assert cut_square(frame, -5, -5, 20, 10).shape == (10, 10, 3)  # past the edge: the edge repeats


def test_a_patch_pasted_at_its_own_size_lands_on_the_pixels_it_was_cut_from() -> None:
    frame = gradient_picture()
    patch = cut_square(frame, 40.0, 30.0, 48.0, 48)
    back = resample(patch, 1.0, 40.0 - 32, 30.0 - 25, (64, 64))  # the rectangle from (32, 25)
    np.testing.assert_allclose(back[5:53, 8:56], frame[30:78, 40:88], atol=0.01)
    smooth = gradient_picture(smooth=3.0)
    doubled = cut_square(smooth, 40.0, 30.0, 48.0, 96)  # drawn at twice the pixels, shown at the square's size
    shown = resample(doubled, 2.0, 40.0 - 32, 30.0 - 25, (64, 64))
    assert np.abs(shown[8:50, 11:53] - smooth[33:75, 43:85]).mean() < 3  # the same picture, to a level or two


def test_the_band_envelopes_rise_in_the_band_that_gets_loud_whatever_the_level() -> None:
    rate = features.SAMPLE_RATE
    t = np.arange(2 * rate) / rate
    burst = (np.sin(2 * np.pi * 2000 * t) * ((t > 1.0) & (t < 1.5))).astype(np.float32)
    quiet, loud = features.envelope(0.01 * burst + 1e-4 * np.random.default_rng(0).standard_normal(len(t)).astype(np.float32)), None
    loud = features.envelope(burst + 1e-2 * np.random.default_rng(0).standard_normal(len(t)).astype(np.float32))
    assert quiet.shape == (100, features.ENVELOPE_DIM)
    band = next(i for i, (low, high) in enumerate(features.ENVELOPE_BANDS) if low <= 2000 < high)
    for found in (quiet, loud):
        assert found[60:70, band].mean() > found[20:40, band].mean() + 1.0  # in units of its own spread
        assert found[50, len(features.ENVELOPE_BANDS) + band] > 0.5  # and its change as the burst starts
    np.testing.assert_allclose(quiet[:, band], loud[:, band], atol=0.6)  # a quiet microphone reads like a loud one


def test_the_refiner_draws_scale_times_larger_and_an_untrained_one_only_resizes() -> None:
    image = torch.rand(2, 3, 16, 16)
    drawn = Refiner(8, 2, 3).eval()(image)
    assert drawn.shape == (2, 3, 48, 48)
    upsampled = torch.nn.functional.interpolate(image, scale_factor=3, mode="bilinear", align_corners=False)
    assert torch.allclose(drawn, upsampled.clamp(0, 1))  # the last layer starts at zero
    assert scale_for(None, 64, 4) == 1 and scale_for(192, 64, 4) == 3 and scale_for(96, 64, 4) == 2 and scale_for(512, 64, 4) == 4


def graph_with(speech_spread: float, drawn_gain: float) -> LipSyncGraph:
    lips_file = {"speech_spread": speech_spread, "gain": 1.0}
    return LipSyncGraph(None, lips_file, None, {}, None, {"drawn_gain": drawn_gain})


def spread_of(deltas: np.ndarray) -> float:
    return float(opening_delta(torch.from_numpy(deltas.astype(np.float32))).std())


def test_the_lips_are_stretched_to_the_persons_spread_as_drawn_never_shrunk_and_at_most_so_far() -> None:
    rng = np.random.default_rng(0)
    deltas = rng.standard_normal((200, 80)).astype(np.float32) * 0.3
    speaking = np.ones(200, bool)
    own = spread_of(deltas)
    stretched = graph_with(own * 2.0, 0.8).persons_spread(deltas, speaking)
    assert abs(spread_of(stretched) * 0.8 - own * 2.0) < 0.01 * own  # drawn at 0.8 of the map: as far as the person
    assert np.allclose(stretched.mean(axis=0), deltas.mean(axis=0), atol=1e-5)  # around the same mean
    np.testing.assert_allclose(graph_with(own * 0.5, 1.0).persons_spread(deltas, speaking), deltas, atol=1e-6)  # never shrunk
    assert abs(spread_of(graph_with(own * 10, 1.0).persons_spread(deltas, speaking)) - MOST_STRETCH * own) < 0.01 * own
    np.testing.assert_array_equal(graph_with(own * 2, 1.0).persons_spread(deltas, np.zeros(200, bool)), deltas)  # no speech: as predicted
    old = LipSyncGraph(None, {"gain": 1.5}, None, {}, None, None)  # a model file from before: its fixed gain
    np.testing.assert_allclose(old.persons_spread(deltas, speaking), deltas * 1.5)


def test_a_refiner_file_from_before_it_could_draw_larger_still_loads_and_refines_alike(tmp_path) -> None:
    """Its one stack (net.*) is the body and the last layer of a scale-1 refiner."""
    torch.manual_seed(0)
    now = Refiner(8, 2, 1)
    torch.nn.init.normal_(now.out.weight, std=0.1)
    layers = [*now.body, now.out]
    old = {f"net.{index}.{name}": value for index, layer in enumerate(layers) for name, value in layer.state_dict().items()}
    save_model(tmp_path / "refiner.pt", "refiner", {"channels": 8, "blocks": 2}, old, {})
    loaded, saved = refiner_module.load(tmp_path / "refiner.pt")
    image = torch.rand(1, 3, 16, 16)
    assert loaded.scale == 1 and "drawn_gain" not in saved
    assert torch.allclose(loaded(image), now.eval()(image))
