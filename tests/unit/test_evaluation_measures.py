"""The evaluation's measures on synthetic input where the answer is known, and its limits and report."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from plugins.evaluation import measures, report
from plugins.evaluation.sync import Expert
from plugins.evaluation.thresholds import CHANCE, GROUPS, RULES, Clip, chance
from plugins.lipsync.common import save_model
from plugins.lipsync.data import INNER_BOTTOM, INNER_TOP, LIPS
from plugins.lipsync.nets import SyncNet
from host.presets import PRESETS_ORDER
from tests.fixtures.evaluation import FLOOR, REAL, own_clip


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
    assert measures.laplacian_variance(blurred) < 0.2 * measures.laplacian_variance(a)
    assert measures.sharpness(np.array([1.0, np.nan, 3.0])) == pytest.approx(2.0)


def test_the_track_opening_is_the_inner_lip_gap():
    lips = lips_moving(2)
    lips[:, INNER_TOP] = [0.0, -0.05]
    lips[:, INNER_BOTTOM] = [0.0, 0.07]
    track = measures.Track(lips, np.zeros((2, 64, 64, 3), np.uint8), np.ones(2, np.float32))
    assert track.opening == pytest.approx([0.12, 0.12])


def test_lip_motion_is_the_spread_of_the_opening_in_speech_and_needs_a_second_of_it():
    opening = np.tile([0.02, 0.06], 20).astype(np.float32)
    assert measures.lip_motion(opening, np.ones(40, bool)) == pytest.approx(2.0, rel=1e-4)
    assert measures.lip_motion(np.full(40, 0.04, np.float32), np.ones(40, bool)) == pytest.approx(0.0)
    assert measures.lip_motion(opening, np.r_[np.ones(20, bool), np.zeros(20, bool)]) is None


def bound_values(rule, side: str, basis: Clip) -> list[float | None]:
    by_preset = getattr(rule, side)
    return [None if by_preset.get(p) is None else by_preset[p].value(rule.measure, basis, p) for p in PRESETS_ORDER]


def test_every_rule_names_every_preset_and_presets_tighten():
    basis = Clip(20.0, {name: 1.0 for name in MEASURES}, {name: 1.0 for name in MEASURES})
    for rule in RULES:
        assert set(rule.low) == set(rule.high) == set(PRESETS_ORDER), rule.name
        lows = [v for v in bound_values(rule, "low", basis) if v is not None]
        highs = [v for v in bound_values(rule, "high", basis) if v is not None]
        assert lows == sorted(lows), f"{rule.name}: {lows}"
        assert highs == sorted(highs, reverse=True), f"{rule.name}: {highs}"


def test_chance_is_the_shorter_lengths_row_and_none_under_the_sync_minimum():
    assert chance(9.9, 95) is None
    assert chance(10.0, 95) == chance(11.9, 95) == (CHANCE[10.0][0], CHANCE[10.0][1])
    assert chance(60.0, 99) == (CHANCE[20.0][0], CHANCE[20.0][2])


MEASURES = ("face_share", "sync_confidence", "sync_offset_frames", "lip_motion", "jitter", "stillness_in_silence",
            "lmd", "mouth_ssim", "mouth_psnr", "sharpness_ratio")
def test_the_real_recording_passes_and_its_sync_rules_come_first_in_words():
    made = report.build([own_clip({**REAL, "lmd": 0.5, "mouth_ssim": 0.9, "mouth_psnr": 30.0})], "standard")
    assert made["passed"] and made["sync_passed"], made["summary"]
    assert [check["group"] for check in made["checks"]] == sorted((c["group"] for c in made["checks"]), key=GROUPS.index)
    assert made["summary"][0].startswith("The video passes all") and "lip sync first" in made["summary"][0]


def test_a_render_out_of_sync_fails_first_on_sync_whatever_else_it_does_well():
    late = own_clip({**REAL, "sync_offset": -15})
    made = report.build([late], "draft")
    assert not made["passed"] and not made["sync_passed"]
    assert "lip sync comes first and it fails" in made["summary"][0]
    assert any(line.startswith("FAILS: the mouth moves with the sound") for line in made["summary"])


def test_do_nothing_mouths_fail_the_motion_floor_and_trembling_fails_its_ceiling():
    frozen = report.build([own_clip({**REAL, "lip_motion": 0.2, "jitter": 0.05})], "draft")
    assert {c["rule"] for c in frozen["checks"] if not c["passed"]} == {"lip_motion", "jitter"}
    shaky = report.build([own_clip({**REAL, "jitter": 5.0})], "draft")
    assert {c["rule"] for c in shaky["checks"] if not c["passed"]} == {"jitter"}


def test_a_measure_the_render_could_not_give_fails_and_a_missing_baseline_leaves_it_unchecked():
    faceless = report.build([own_clip({**REAL, "lip_motion": None, "face_share": 0.3})], "draft")
    failed = {c["rule"] for c in faceless["checks"] if not c["passed"]}
    assert {"lip_motion", "face_share"} <= failed and not faceless["passed"]
    no_floor = report.build([{**own_clip(dict(REAL)), "floor": {}}], "draft")
    assert not no_floor["passed"] and {u["rule"] for u in no_floor["unchecked"]} >= {"sync_above_floor", "lmd"}


def test_sync_is_judged_only_on_long_clips_whose_real_recording_shows_it_and_a_round_needs_one():
    short = report.build([own_clip(dict(REAL), seconds=4.0)], "draft")
    assert not short["passed"] and "no clip could judge it" in short["summary"][0]
    faint = own_clip(dict(REAL), ceiling={**REAL, "sync_confidence": 0.10})
    skipped = report.build([faint], "draft")
    assert {s["rule"] for s in skipped["skipped"]} == {"sync_above_chance", "sync_above_floor", "sync_offset"}
    assert not skipped["passed"]
    voice = {"id": "voice_a", "kind": "voice", "voice": "a", "seconds": 13.0, "start": 0, "stop": 0,
             "render": {**REAL, "sync_confidence": 0.45}, "floor": {**FLOOR, "stillness_in_silence": None}}
    both = report.build([faint, voice], "draft")
    assert both["passed"], both["summary"]
    assert any(c["clip"] == "voice_a" and c["rule"] == "lip_motion" for c in both["checks"])  # held to the person's own motion
    unsynced = report.build([faint, {**voice, "render": {**REAL, "sync_confidence": 0.15}}], "draft")
    assert not unsynced["passed"] and not unsynced["sync_passed"]


def test_tiny_judges_no_sync_but_still_refuses_a_frozen_picture():
    assert report.build([own_clip({**REAL, "sync_confidence": 0.0, "sync_offset": 20})], "tiny")["passed"]
    frozen = report.build([own_clip({**REAL, "lip_motion": 0.1, "jitter": 0.02})], "tiny")
    assert not frozen["passed"]


def tiny_expert(tmp_path) -> Expert:
    torch.manual_seed(0)
    config = {"window": 5, "components": 4, "trajectories": 2}
    path = tmp_path / "syncnet.pt"
    net = SyncNet(4, 2)
    net.basis.normal_()
    save_model(path, "syncnet", config, net.state_dict(), {"mean_shape": torch.zeros(len(LIPS), 2)})
    return Expert(path)


def test_the_expert_scores_the_windows_in_speech_with_a_face_and_says_so_when_there_are_none(tmp_path):
    expert = tiny_expert(tmp_path)
    lips = np.random.default_rng(0).normal(0, 0.05, (30, len(LIPS), 2)).astype(np.float32)
    varied = np.random.default_rng(1).normal(0, 0.1, 30 * 640).astype(np.float32)  # 30 frames at 25 fps of 16 kHz
    scored = expert.confidence(lips, varied, 25.0, np.ones(30, bool))
    assert scored["expert_confidence"] >= 0 and -25 <= scored["expert_offset"] <= 25  # the best offset's mean minus the median
    assert expert.confidence(lips, varied, 25.0, np.zeros(30, bool)) == {"expert_confidence": None, "expert_offset": None}
    faceless = np.full_like(lips, np.nan)
    assert expert.confidence(faceless, varied, 25.0, np.ones(30, bool)) == {"expert_confidence": None, "expert_offset": None}
