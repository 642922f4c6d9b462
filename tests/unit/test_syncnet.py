"""The sync expert's inputs: the sound at each frame of a window, at any frame rate, and the lips'
main motions at unit spread; and its output, a correlation that follows the sync."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plugins.lipsync import syncnet
from plugins.lipsync.features import ENVELOPE_DIM, RATE
from plugins.lipsync.nets import SyncNet


def numbered_rows(count: int) -> torch.Tensor:
    """Envelope rows whose every value is the row's own number."""
    return torch.arange(count, dtype=torch.float32)[:, None].repeat(1, ENVELOPE_DIM)


@pytest.mark.parametrize("fps", [25.0, 30.0, 50.0])
def test_each_frame_of_a_window_gets_the_sound_at_its_own_time(fps):
    rows = numbered_rows(1000)
    middles = np.array([40.0, 100.0])
    got = syncnet.frame_envelopes(rows, middles, 5, fps)
    assert got.shape == (2, 5, ENVELOPE_DIM)
    times = (middles[:, None] + np.arange(-2, 3)[None]) / fps  # seconds of each window's frames
    # the two rows up to each frame's time, averaged: half a row (10 ms) before it
    assert np.allclose(got[:, :, 0].numpy() / RATE, times - 0.5 / RATE, atol=0.5 / RATE + 1e-6)


def test_the_main_motions_have_unit_spread_and_follow_the_largest_first():
    rng = np.random.default_rng(0)
    moving = (rng.standard_normal((400, 80)) * np.linspace(0.03, 0.001, 80)).astype(np.float32)
    basis = syncnet.whitened_basis(moving, 6).numpy()
    projected = (moving - moving.mean(axis=0)) @ basis.T
    assert np.allclose(projected.std(axis=0), 1.0, atol=1e-3)
    assert np.argmax(np.abs(basis[0])) == 0  # the widest coordinate leads


def test_a_mouth_that_moves_with_the_sound_scores_above_one_that_moves_late():
    """With one sound curve reading the first band and one mouth curve reading the first motion,
    the logit is their correlation: the same curve scores 1, a shifted one less."""
    net = SyncNet(components=1, trajectories=1, kernel=1, dropout=0.0)
    net.eval()
    with torch.no_grad():
        net.basis.zero_()
        net.basis[0, 0] = 1.0
        net.audio.weight.zero_()
        net.audio.weight[0, 0, 0] = 1.0
        net.audio.bias.zero_()
        net.lips.weight.zero_()
        net.lips.weight[0, 0, 1] = 1.0
        net.lips.bias.zero_()
    curve = torch.sin(torch.linspace(0, 6, 20))
    sound = torch.zeros(2, 15, ENVELOPE_DIM)
    sound[:, :, 0] = curve[:15]
    lips = torch.zeros(2, 15, 80)
    lips[0, :, 0] = curve[:15]
    lips[1, :, 0] = curve[5:20]
    with torch.no_grad():
        same, late = net(sound, lips).tolist()
    assert same == pytest.approx(float(net.scale), rel=1e-4)
    assert late < same - 1.0
