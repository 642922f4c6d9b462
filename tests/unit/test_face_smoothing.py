"""The crop box follows the face without lag, does not jitter, is held across frames without a face
and stays inside the frame where it fits (plugins/face_track/smoothing.py), on made-up tracks whose
true path is known."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.face_track.smoothing import MARGIN, crop_boxes, landmark_boxes

FPS = 25.0
FRAME = 1000  # a frame large enough that the box never touches its edges unless a test wants it


def face_boxes(centre_x: np.ndarray, centre_y: np.ndarray, extent: float | np.ndarray = 100.0) -> np.ndarray:
    """Square landmark boxes of the given centres and size."""
    half = np.broadcast_to(np.asarray(extent, dtype=float) / 2, centre_x.shape)
    return np.stack([centre_x - half, centre_y - half, centre_x + half, centre_y + half], axis=1).astype(np.float32)


def centre_of(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)


def test_landmark_boxes_span_the_points_and_are_nan_without_a_face():
    landmarks = np.full((3, 468, 3), np.nan, dtype=np.float32)
    rng = np.random.default_rng(0)
    landmarks[0] = rng.uniform(10, 50, (468, 3))
    landmarks[2] = rng.uniform(100, 300, (468, 3))
    boxes = landmark_boxes(landmarks)
    assert boxes.dtype == np.float32 and boxes.shape == (3, 4)
    for row in (0, 2):
        points = landmarks[row, :, :2]
        np.testing.assert_array_equal(boxes[row], [*points.min(axis=0), *points.max(axis=0)])
    assert np.isnan(boxes[1]).all()


def test_a_still_face_with_noisy_landmarks_gets_a_steady_box_of_the_margin():
    rng = np.random.default_rng(1)
    n = 250
    noisy = face_boxes(500 + rng.normal(0, 2, n), 400 + rng.normal(0, 2, n), 100 + rng.normal(0, 2, n))
    crop = crop_boxes(noisy, FRAME, FRAME, FPS)
    steps = np.linalg.norm(np.diff(centre_of(crop), axis=0), axis=1)
    raw_steps = np.linalg.norm(np.diff(centre_of(noisy), axis=0), axis=1)
    assert np.median(steps) < 0.25 * np.median(raw_steps)
    side = crop[:, 2] - crop[:, 0]
    np.testing.assert_allclose(side, crop[:, 3] - crop[:, 1], rtol=1e-6)
    assert abs(side.mean() - MARGIN * 100) < 1 and side.std() < 0.5 * MARGIN * 2  # half the noise the margin scales
    assert np.abs(centre_of(crop) - [500, 400]).max() < 3


def test_a_moving_face_is_followed_without_lag():
    """Savitzky–Golay of degree 2 passes straight and evenly curving paths unchanged: a box that
    trailed the face (a one-sided filter) would be off by the distance the face moves in its delay."""
    frames = np.arange(200, dtype=float)
    x = 200 + 3.0 * frames  # 75 px a second to the right
    y = 300 + 0.01 * (frames - 100) ** 2  # down, up again
    crop = crop_boxes(face_boxes(x, y), FRAME, FRAME, FPS)
    np.testing.assert_allclose(centre_of(crop), np.stack([x, y], axis=1), atol=0.05)


def test_a_swaying_head_keeps_its_face_inside_the_box_with_no_delay():
    rng = np.random.default_rng(2)
    frames = np.arange(500)
    sway = 60 * np.sin(2 * np.pi * 0.5 * frames / FPS)  # half a sway a second, 60 px either way
    boxes = face_boxes(500 + sway + rng.normal(0, 1.5, 500), 500 + rng.normal(0, 1.5, 500))
    crop = crop_boxes(boxes, FRAME, FRAME, FPS)
    assert ((crop[:, :2] <= boxes[:, :2]) & (crop[:, 2:] >= boxes[:, 2:])).all()
    followed = centre_of(crop)[:, 0] - 500
    delays = range(-5, 6)
    best = max(delays, key=lambda d: np.corrcoef(sway[20:-20], np.roll(followed, -d)[20:-20])[0, 1])
    assert best == 0
    assert np.abs(followed - sway).max() < 3


def test_the_box_is_held_and_interpolated_across_frames_without_a_face():
    n = 100
    boxes = face_boxes(np.linspace(300, 400, n), np.full(n, 500.0))
    boxes[:10] = np.nan  # no face before frame 10
    boxes[40:60] = np.nan  # a gap
    boxes[90:] = np.nan  # none after frame 90
    crop = crop_boxes(boxes, FRAME, FRAME, FPS)
    assert np.isfinite(crop).all()
    centre = centre_of(crop)[:, 0]
    truth = np.linspace(300, 400, n)
    np.testing.assert_allclose(centre[20:80], truth[20:80], atol=0.05)  # a straight path, bridged straight
    np.testing.assert_allclose(centre[:10], truth[10], atol=1)  # held (smoothing rounds the corner a little)
    np.testing.assert_allclose(centre[90:], truth[89], atol=1)


def test_the_box_is_shifted_inside_the_frame_where_it_fits():
    n = 50
    near_left_top = face_boxes(np.full(n, 60.0), np.full(n, 70.0))  # side 160 would start at x -20, y -10
    crop = crop_boxes(near_left_top, 640, 480, FPS)
    np.testing.assert_allclose(crop[:, :2], 0, atol=1e-4)
    np.testing.assert_allclose(crop[:, 2:], MARGIN * 100, atol=1e-3)
    near_right_bottom = face_boxes(np.full(n, 600.0), np.full(n, 450.0))
    crop = crop_boxes(near_right_bottom, 640, 480, FPS)
    np.testing.assert_allclose(crop[:, 2:], [[640, 480]] * n, atol=1e-3)


def test_a_box_larger_than_the_frame_covers_it_as_near_the_face_as_it_can():
    n = 50
    # a 256 px frame and a 170 px face: the 272 px box cannot fit, so it spills over both edges
    boxes = face_boxes(np.full(n, 140.0), np.full(n, 120.0), 170.0)
    crop = crop_boxes(boxes, 256, 256, FPS)
    side = MARGIN * 170
    np.testing.assert_allclose(crop[:, 2] - crop[:, 0], side, atol=1e-3)
    assert (crop[:, :2] <= 0).all() and (crop[:, 2:] >= 256).all()
    assert ((crop[:, :2] <= boxes[:, :2]) & (crop[:, 2:] >= boxes[:, 2:])).all()
    np.testing.assert_allclose(crop[:, 0], 0, atol=1e-3)  # the face is right of the middle: it spills over the right edge only
    np.testing.assert_allclose(crop[:, 1], 256 - side, atol=1e-3)  # and above it: over the top edge only


def test_a_margin_other_than_the_default_sets_the_side():
    n = 30
    crop = crop_boxes(face_boxes(np.full(n, 500.0), np.full(n, 500.0), 80.0), FRAME, FRAME, FPS, margin=2.0)
    np.testing.assert_allclose(crop[:, 2] - crop[:, 0], 160, atol=1e-3)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_very_short_tracks_get_a_box(n):
    crop = crop_boxes(face_boxes(np.full(n, 500.0), np.full(n, 500.0)), FRAME, FRAME, FPS)
    np.testing.assert_allclose(crop, [[420, 420, 580, 580]] * n, atol=1e-3)


def test_no_face_in_any_frame_leaves_no_box():
    crop = crop_boxes(np.full((20, 4), np.nan, dtype=np.float32), FRAME, FRAME, FPS)
    assert crop.shape == (20, 4) and crop.dtype == np.float32 and np.isnan(crop).all()
