"""audio2lip's gain and rest pose: what the graph scales predictions by and pulls silence towards."""

from __future__ import annotations

import numpy as np

from plugins.lipsync import data as lipdata
from plugins.lipsync.audio2lip import GAIN_RANGE, MIN_SILENCE_FRAMES, least_squares_gain, rest_pose


def test_the_gain_is_the_slope_of_the_real_opening_on_the_predicted_one() -> None:
    rng = np.random.default_rng(0)
    predicted = rng.standard_normal(2000)
    real = 1.8 * predicted + 0.5 * rng.standard_normal(2000) + 3.0
    assert abs(least_squares_gain(predicted, real) - 1.8) < 0.05


def test_an_unsure_prediction_is_not_scaled_up_to_the_real_spread() -> None:
    """Half as wide and weakly correlated: the ratio of spreads would say 2, the slope says less,
    and never less than 1."""
    rng = np.random.default_rng(1)
    real = rng.standard_normal(5000)
    predicted = 0.5 * (0.3 * real + np.sqrt(1 - 0.3**2) * rng.standard_normal(5000))
    spread_ratio = real.std() / predicted.std()
    gain = least_squares_gain(predicted, real)
    assert spread_ratio > 1.9 and gain < 0.7 * spread_ratio
    assert GAIN_RANGE[0] <= gain <= GAIN_RANGE[1]
    assert least_squares_gain(predicted, -real) == GAIN_RANGE[0]
    assert least_squares_gain(np.zeros(10), real[:10]) == GAIN_RANGE[0]


def lips_with_opening(openings: np.ndarray) -> np.ndarray:
    lips = np.zeros((len(openings), len(lipdata.LIPS), 2), np.float32)
    lips[:, lipdata.INNER_BOTTOM, 1] = openings
    return lips


def test_the_rest_pose_is_the_mean_of_the_silent_frames() -> None:
    frames = 200
    deltas = np.zeros((frames, 80), np.float32)
    deltas[:100] = 1.0  # speech
    deltas[100:] = 0.25  # silence, lips a little apart
    silence = np.r_[np.zeros(100), np.ones(100)].astype(np.float32)
    rest = rest_pose(deltas, lips_with_opening(np.linspace(0.0, 1.0, frames)), silence)
    assert np.allclose(rest, 0.25)


def test_without_enough_silence_the_rest_pose_is_the_most_closed_tenth() -> None:
    frames = 100
    openings = np.linspace(0.0, 1.0, frames)
    deltas = np.repeat(openings[:, None], 80, axis=1).astype(np.float32)
    silence = np.zeros(frames, np.float32)
    silence[:int(MIN_SILENCE_FRAMES) - 1] = 1.0
    rest = rest_pose(deltas, lips_with_opening(openings), silence)
    assert np.allclose(rest, openings[:10].mean(), atol=1e-6)
