"""The evaluation's measures on synthetic input where the answer is known, and its limits and report."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from plugins.evaluation import measures, report
from plugins.evaluation.sync import Expert
from plugins.evaluation.thresholds import RULES
from plugins.lipsync.common import save_model
from plugins.lipsync.data import INNER_BOTTOM, INNER_TOP, LIPS, Geometry
from plugins.lipsync.nets import SyncNet
from plugins.video_analysis.thresholds import PRESETS_ORDER


def picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)


def lips_moving(count: int, step: float = 0.0) -> np.ndarray:
    base = np.random.default_rng(1).normal(0, 0.1, (len(LIPS), 2)).astype(np.float32)
    return np.stack([base + step * i for i in range(count)]).astype(np.float32)


def test_identical_pictures_score_the_psnr_cap_and_an_ssim_of_one():
    a = picture()
    assert measures.psnr(a, a.copy()) == measures.PSNR_CAP
    assert measures.ssim(a, a.copy()) == pytest.approx(1.0)


def test_psnr_of_a_uniform_error_is_its_textbook_value():
    a = np.full((32, 32, 3), 100, np.uint8)
    assert measures.psnr(a, a + 10) == pytest.approx(10 * np.log10(255**2 / 100))


def test_ssim_falls_with_noise_and_is_near_zero_for_unrelated_pictures():
    a = picture(0)
    noisy = np.clip(a.astype(int) + np.random.default_rng(2).normal(0, 30, a.shape), 0, 255).astype(np.uint8)
    assert 0.2 < measures.ssim(a, noisy) < 0.95
    assert abs(measures.ssim(a, picture(3))) < 0.1


def test_still_and_steadily_moving_lips_have_no_jitter_and_trembling_lips_do():
    assert measures.jitter(lips_moving(20)) == pytest.approx(0.0)
    assert measures.jitter(lips_moving(20, step=0.01)) == pytest.approx(0.0, abs=1e-4)
    trembling = lips_moving(20) + np.where(np.arange(20) % 2, 0.01, -0.01)[:, None, None].astype(np.float32)
    # each point moves by 0.02 each way in x and y: a second difference of 0.04 * sqrt(2) eye distances
    assert measures.jitter(trembling) == pytest.approx(4 * np.sqrt(2), rel=1e-3)


def test_lmd_is_zero_against_itself_and_the_mean_point_distance_otherwise():
    lips = lips_moving(10)
    assert measures.lmd(lips, lips) == 0.0
    moved = lips + np.array([0.03, 0.04], np.float32)
    assert measures.lmd(moved, lips) == pytest.approx(5.0, rel=1e-4)
    lips[3] = np.nan  # a frame without a face is left out
    assert measures.lmd(moved, lips) == pytest.approx(5.0, rel=1e-4)


def test_stillness_counts_only_changes_between_silent_frames():
    opening = np.array([0.0, 0.5, 0.0, 0.5, 0.10, 0.12, 0.10, 0.12], np.float32)
    speech = np.array([True, True, True, True, False, False, False, False])
    assert measures.stillness(opening, speech) == pytest.approx(2.0, rel=1e-4)
    assert measures.stillness(opening, np.ones(8, bool)) is None


def test_a_blurred_mouth_is_less_sharp():
    a = picture()
    blurred = cv2.GaussianBlur(a, (7, 7), 2.0)
    assert measures.sharpness(blurred[None]) < 0.2 * measures.sharpness(a[None])


def test_the_track_opening_is_the_inner_lip_gap():
    lips = lips_moving(2)
    lips[:, INNER_TOP] = [0.0, -0.05]
    lips[:, INNER_BOTTOM] = [0.0, 0.07]
    track = measures.Track(lips, np.zeros((2, 64, 64, 3), np.uint8))
    assert track.opening == pytest.approx([0.12, 0.12])


def test_every_rule_has_a_limit_for_every_preset_and_presets_tighten():
    for rule in RULES:
        assert set(rule.limits) == set(PRESETS_ORDER), rule.measure
        base = {"floor": 1.0, "ceiling": 1.0}
        limits = [rule.limit(preset, base) for preset in PRESETS_ORDER]
        ordered = limits == sorted(limits) if rule.better == "higher" else limits == sorted(limits, reverse=True)
        assert ordered, f"{rule.measure}: {limits}"


def test_the_report_checks_the_render_against_its_baselines_and_says_so_in_words():
    clip = {
        "id": "t1", "start": 0, "stop": 100,
        "render": {"sync_confidence": 0.30, "sync_offset": -1, "lmd": 4.0},
        "floor": {"sync_confidence": 0.05, "sync_offset": 6, "lmd": 9.0},
        "ceiling": {"sync_confidence": 0.35, "sync_offset": 0, "lmd": 0.0},
    }
    made = report.build([clip], "standard")
    by_name = {check["measure"]: check for check in made["checks"]}
    assert by_name["sync_confidence"]["passed"] is True and by_name["sync_confidence"]["limit"] == pytest.approx(0.15)
    assert by_name["sync_offset_frames"]["passed"] is True and by_name["lmd"]["passed"] is True
    assert by_name["jitter"]["passed"] is None  # not measured: not checked, and not a failure
    assert made["passed"] is True and "passes all 3 checks" in made["summary"][0]
    worse = report.build([{**clip, "render": {**clip["render"], "sync_confidence": 0.1}}], "standard")
    assert worse["passed"] is False and any(line.startswith("FAILS: the mouth follows the sound") for line in worse["summary"])


def tiny_expert(tmp_path) -> Expert:
    torch.manual_seed(0)
    config = {"channels": 4, "audio_channels": 8, "mouth_size": 16}
    path = tmp_path / "syncnet.pt"
    save_model(path, "syncnet", config, SyncNet(4, 8).state_dict(), {})
    geometry = Geometry(np.array([0.2, 0.5, 0.8, 1.0], np.float32), np.zeros((len(LIPS), 2), np.float32), 1.0)
    return Expert(path, geometry)


def test_the_expert_finds_no_sync_in_a_sound_that_never_changes_and_scores_every_window_in_speech(tmp_path):
    expert = tiny_expert(tmp_path)
    crops = np.random.default_rng(0).integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
    flat = torch.ones(100, 512)
    found = expert.confidence(crops, flat, 25.0, np.ones(30, bool))
    assert found == {"expert_confidence": pytest.approx(0.0, abs=1e-6), "expert_offset": 0}
    varied = torch.from_numpy(np.random.default_rng(1).normal(size=(100, 512)).astype(np.float32))
    scored = expert.confidence(crops, varied, 25.0, np.ones(30, bool))
    assert scored["expert_confidence"] > 0 and -10 <= scored["expert_offset"] <= 10
    assert expert.confidence(crops, varied, 25.0, np.zeros(30, bool)) == {"expert_confidence": None, "expert_offset": None}
