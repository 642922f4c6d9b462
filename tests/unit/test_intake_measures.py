"""The intake measures as pure functions on synthetic arrays: frame times, luma grids, face boxes,
sound and speech probabilities, and the thresholds that judge them."""

from __future__ import annotations

import math
import string
from pathlib import Path

import av
import numpy as np
import pytest

from plugins.video_analysis import measures as m
from plugins.video_analysis.check import judged
from plugins.video_analysis.decode import (
    LUMA_RUN_FRAMES,
    LumaRuns,
    Scan,
    ToVadRate,
    clipped_count,
    face_every,
    group_means,
    mono_float,
    quarter_turns,
    upright,
)
from host.presets import PRESETS_ORDER
from plugins.video_analysis.thresholds import PRESETS, Limit, limits
from plugins.video_analysis.words import ADVICE, LANGUAGES, measure_name, row_advice, value_text

rng = np.random.default_rng(7)


# Frame timing ----------------------------------------------------------------------------------


def test_constant_frame_rate_is_regular():
    times = np.arange(250) / 25
    assert m.frame_rate(times) == pytest.approx(25.0)
    assert m.interval_stats(times) == (0.0, 0.0)


def test_missing_frames_are_counted_as_dropped_not_variable():
    times = np.delete(np.arange(100) / 25, [10, 11, 50])  # three frames missing in two gaps
    variable, dropped = m.interval_stats(times)
    assert variable == 0.0
    assert dropped == pytest.approx(3 / 100 * 100)


def test_irregular_intervals_are_a_variable_frame_rate():
    deltas = rng.uniform(0.025, 0.055, size=300)  # a phone's frame rate wandering between 18 and 40 fps
    variable, _ = m.interval_stats(np.cumsum(deltas))
    assert variable > 30


def test_frame_rate_of_too_few_frames_is_zero():
    assert m.frame_rate([0.0]) == 0.0
    assert m.interval_stats([0.0, 0.04]) == (0.0, 0.0)


def test_identical_consecutive_frames_are_duplicates():
    a = rng.integers(0, 255, (48, 64), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    assert math.isnan(m.frame_difference(None, a))
    assert m.frame_difference(a, a.copy()) == 0.0
    assert m.frame_difference(a, b) > 1.0
    diffs = [math.nan, 0.0, 2.0, 0.0, 3.0]
    assert m.duplicated_percent(diffs) == 50.0
    assert m.duplicated_percent([]) == 0.0


def test_a_stack_of_grids_measures_as_each_grid_alone():
    grids = rng.integers(0, 256, (7, 48, 64), dtype=np.uint8)
    grids[3] = grids[2]  # a repeat
    before = rng.integers(0, 256, (48, 64), dtype=np.uint8)
    assert m.mean_lumas(grids) == [float(g.mean()) for g in grids]
    assert m.frame_differences(before, grids) == [m.frame_difference(p, g) for p, g in zip([before, *grids[:-1]], grids)]
    assert m.frame_differences(before, grids)[3] == 0.0
    assert math.isnan(m.frame_differences(None, grids[:1])[0])
    assert math.isnan(m.frame_differences(before[:10], grids)[0])  # a new picture size compares with nothing


def gray_frame(value: int, width: int = 128, height: int = 96) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(np.full((height, width), value, dtype=np.uint8), format="gray")


def test_luma_runs_measure_every_frame_across_runs_and_sizes():
    scan = Scan(path=Path("clip.mp4"), size_bytes=0)
    runs = LumaRuns(scan)
    values = [10, 10, 20] + list(range(30, 30 + LUMA_RUN_FRAMES))  # a repeat, then a run boundary
    for value in values:
        runs.add(gray_frame(value))
    runs.add(gray_frame(200, width=64))  # the picture changes size
    runs.flush()
    assert scan.brightness == [*map(float, values), 200.0]
    assert math.isnan(scan.frame_diffs[0]) and math.isnan(scan.frame_diffs[-1])
    assert scan.frame_diffs[1:-1] == [float(abs(b - a)) for a, b in zip(values, values[1:])]


# Faces -----------------------------------------------------------------------------------------


def test_sharpness_falls_with_blur():
    import cv2

    texture = rng.integers(0, 255, (128, 128), dtype=np.uint8)
    blurred = cv2.GaussianBlur(texture, (0, 0), 3)
    assert m.laplacian_variance(texture) > 20 * m.laplacian_variance(blurred)


def test_inner_crop_keeps_the_centre_and_clips_to_the_picture():
    luma = np.arange(100 * 100, dtype=np.uint32).reshape(100, 100).astype(np.uint8)
    crop = m.inner_crop(luma, (20, 30, 50, 40))
    assert crop.shape == (32, 40)  # 80% of 40 x 50
    assert crop.flags["C_CONTIGUOUS"]
    edge = m.inner_crop(luma, (-40, -40, 80, 80))
    assert edge.shape == (32, 32)
    assert m.inner_crop(luma, (50, 50, 5, 5)) is None


def test_background_brighter_than_the_face_is_backlight():
    grid = np.full((60, 80), 230, dtype=np.uint8)  # a bright window
    grid[15:45, 30:50] = 60  # the face
    grid[45:, 20:60] = 40  # shoulders, below the chin: not counted
    background = m.background_luma(grid, (30, 15, 20, 30))
    assert background == pytest.approx(230)
    assert m.background_luma(np.zeros((4, 4)), (-10, -10, 30, 30)) is None


def test_background_is_everything_above_the_chin_around_the_head_for_any_box():
    def by_mask(grid, box):  # the region as the docstring states it, cell by cell
        x, y, w, h = box
        rows, cols = np.mgrid[0 : grid.shape[0], 0 : grid.shape[1]]
        around = (rows < y + h) & ~((cols >= x - w / 2) & (cols < x + w * 1.5) & (rows >= y - h / 2))
        return float(grid[around].mean()) if np.count_nonzero(around) >= 4 else None

    for _ in range(500):
        grid = rng.integers(0, 256, tuple(rng.integers(1, 40, 2)), dtype=np.uint8)
        box = tuple(rng.uniform(-20, 50, 2)) + tuple(rng.uniform(0, 40, 2))
        for edges in (box, tuple(float(round(v)) for v in box)):  # whole-number edges fall on cells
            expected = by_mask(grid, edges)
            assert m.background_luma(grid, edges) == (None if expected is None else pytest.approx(expected))


def test_face_touching_the_edge_is_cut_off():
    assert not m.face_cut_off((100, 80, 120, 150), 640, 480)
    assert m.face_cut_off((-10, 80, 120, 150), 640, 480)
    assert m.face_cut_off((500, 80, 140, 150), 640, 480)
    assert m.face_cut_off((260, 2, 120, 150), 640, 480)


def test_face_offset_from_the_centre():
    assert m.face_offset((270, 190, 100, 100), 640, 480) == pytest.approx(0.0)
    assert m.face_offset((30, 190, 100, 100), 640, 480) == pytest.approx(240 / 640 * 100)


def test_head_motion_in_face_widths_per_second():
    times = np.arange(20) * 1.0
    still = [(100.0, 100.0, 80.0, 80.0)] * 20
    assert m.head_motion(times, still) == 0.0
    moving = [(100.0 + 40 * i, 100.0, 80.0, 80.0) for i in range(20)]  # half a face width a second
    assert m.head_motion(times, moving) == pytest.approx(0.5)
    assert m.head_motion([0.0], still[:1]) == 0.0


# Sound -----------------------------------------------------------------------------------------


def test_levels_in_dbfs():
    assert m.dbfs(1.0) == 0.0
    assert m.dbfs(0.1) == pytest.approx(-20.0)
    assert m.dbfs(0.0) == m.SILENCE_DBFS
    sine = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    assert m.loudness(float(np.square(sine, dtype=np.float64).sum()), sine.size) == pytest.approx(-3.01, abs=0.01)
    assert m.loudness(0.0, 0) == m.SILENCE_DBFS


def test_window_rms_carries_the_rest():
    audio = np.ones(1300, dtype=np.float32) * 0.5
    rms, rest = m.window_rms(audio, 512)
    assert rms.tolist() == [0.5, 0.5]
    assert rest.size == 1300 - 1024


def test_noise_floor_is_the_level_of_the_quiet_windows():
    levels = np.concatenate([np.full(80, 0.1), np.full(20, 0.001)])  # speech at -20 dBFS, pauses at -60
    assert m.noise_floor(levels) == pytest.approx(-60.0)
    assert m.noise_floor([]) == m.SILENCE_DBFS


def test_clipping_share():
    raw = np.array([[0.2, 1.0, -1.0, 0.5], [0.0, 0.9995, 0.1, -0.3]], dtype=np.float32)
    assert clipped_count(raw) == 3
    assert clipped_count(np.array([[0.1, -0.2]], dtype=np.float32)) == 0
    assert clipped_count(np.array([[32767, -32768, 100]], dtype=np.int16)) == 2
    assert m.clipping_percent(3, 8) == 37.5
    assert m.clipping_percent(0, 0) == 0.0


def test_speech_share_with_hysteresis():
    probs = [0.1, 0.6, 0.4, 0.4, 0.2, 0.1, 0.9, 0.1, 0.1, 0.1]
    # speech starts at 0.6, lasts through both 0.4 (above 0.35), ends at 0.2; a second burst at 0.9
    assert m.speech_percent(probs) == pytest.approx(40.0)
    assert m.speech_percent([0.1, 0.4, 0.4, 0.1]) == 0.0  # 0.4 alone never starts speech
    assert m.speech_percent([]) == 0.0


def test_mono_float_from_any_sample_format():
    planar = np.array([[0.5, -0.5], [0.25, 0.25]], dtype=np.float32)
    assert mono_float(planar, True, 2).tolist() == [0.375, -0.125]
    packed = np.array([[16384, -16384, 0, 32767]], dtype=np.int16)  # L R L R
    assert mono_float(packed, False, 2) == pytest.approx([0.0, 0.5], abs=1e-4)
    unsigned = np.array([[128, 255, 0]], dtype=np.uint8)
    assert mono_float(unsigned, False, 1) == pytest.approx([0.0, 0.99, -1.0], abs=0.01)


def test_group_means_are_numpys_means():
    samples = rng.standard_normal(48000).astype(np.float32)
    for size in (2, 3, 6):
        assert np.array_equal(group_means(samples, size), samples.reshape(-1, size).mean(axis=1))


@pytest.mark.parametrize("rate", [48000, 44100, 16000, 22050, 8000])
def test_resampling_to_16k_keeps_pitch_and_is_continuous_across_chunks(rate):
    seconds = 2
    t = np.arange(rate * seconds) / rate
    tone = np.sin(2 * np.pi * 300 * t).astype(np.float32)
    whole = ToVadRate(rate)(tone)
    chunked_resampler = ToVadRate(rate)
    chunks = [chunked_resampler(piece) for piece in np.array_split(tone, 7)]
    chunked = np.concatenate(chunks)
    assert abs(chunked.size - 16000 * seconds) <= 2
    assert np.allclose(chunked[: whole.size - 2], whole[: whole.size - 2], atol=1e-4)
    spectrum = np.abs(np.fft.rfft(chunked[:16000]))
    assert np.argmax(spectrum) == pytest.approx(300, abs=1)  # 1 Hz bins over one second


# Orientation and sampling ------------------------------------------------------------------------


def test_rotation_turns_the_picture_upright():
    stored = np.array([[1, 2], [3, 4]])
    assert quarter_turns(-90) == 270 and quarter_turns(89.6) == 90 and quarter_turns(360) == 0
    assert upright(stored, 0) is stored
    assert upright(stored, 90).tolist() == [[2, 4], [1, 3]]  # counter-clockwise, as players show it


def test_face_sampling_rate():
    assert face_every(25.0, 25 * 60) == 25  # one frame a second of a minute
    assert face_every(25.0, 125) == 3  # a short clip still gets about 40 frames examined
    assert face_every(0.0, 0) == 1


# Thresholds ------------------------------------------------------------------------------------


def test_limit_status_and_targets():
    limit = Limit(fail_below=96, warn_below=160)
    assert [limit.status(v) for v in (90, 120, 200)] == ["fail", "warning", "pass"]
    assert limit.low_target() == 160 and limit.high_target() is None
    both = Limit(fail_below=50, warn_below=80, warn_above=200, fail_above=235)
    assert [both.status(v) for v in (40, 70, 100, 210, 240)] == ["fail", "warning", "pass", "warning", "fail"]


def test_presets_are_complete_and_stricter_in_order():
    names = set(PRESETS["draft"])
    for preset in PRESETS_ORDER:
        assert set(limits(preset)) == names
    for name in ("duration", "face_size", "resolution", "sharpness", "face_visible", "speech_share"):
        floors = [limits(p)[name].fail_below for p in PRESETS_ORDER]
        assert floors == sorted(floors), name
    with pytest.raises(ValueError, match="draft, standard, high"):
        limits("ultra")


def test_advice_quotes_the_numbers():
    row = judged("face_size", 90, "px", Limit(fail_below=96, warn_below=160), low="face_size_low")
    assert row == {
        "name": "face_size", "value": 90, "unit": "px", "status": "fail",
        "advice": "the face is 90 px wide; move closer to the camera, or record at a higher resolution, so that it is at least 160 px",
        "advice_code": "face_size_low", "advice_values": {"value": 90, "target": 160},
    }
    assert judged("face_size", 200, "px", Limit(fail_below=96, warn_below=160), low="face_size_low")["advice"] == ""


def test_advice_is_said_again_in_chinese_from_its_code():
    row = judged("face_size", 90, "px", Limit(fail_below=96, warn_below=160), low="face_size_low")
    assert row_advice(row, "zh") == "脸只有 90 像素宽；请离镜头近一点，或用更高的分辨率录，让脸至少有 160 像素宽"
    assert row_advice(row, "zh-hans") == row_advice(row, "zh") and row_advice(row, "de") == row["advice"]
    assert row_advice({"advice": "an older report's words"}, "zh") == "an older report's words"
    assert (measure_name("face_size", "zh"), measure_name("face_size")) == ("脸的大小", "face size")
    assert (value_text({"value": True, "unit": ""}, "zh"), value_text({"value": 2.0, "unit": "s"}, "zh")) == ("有", "2.0 秒")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_advice_has_the_same_fields_in_every_language(language):
    assert set(ADVICE[language]) == set(ADVICE["en"])
    for code, template in ADVICE[language].items():
        assert {f for _, f, _, _ in string.Formatter().parse(template) if f} == {f for _, f, _, _ in string.Formatter().parse(ADVICE["en"][code]) if f}, code
