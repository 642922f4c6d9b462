"""The measures and proposals of material_extraction on synthetic faces whose answer is known: a
face mesh placed by hand (eye corners, lids, lips, nose where a person's are), written into a real
training set zip, moving and speaking except in one calm, silent stretch; the driving clip must be
found in that stretch and loop, the cover must be the one sharp, open-eyed, frontal moment, and the
held-out clips must take speech, no more of the video than allowed, and say when it is too short."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest

from plugins.crop.geometry import landmarks_in_crop
from plugins.material_extraction.config import Config, config_from, json_schema
from plugins.material_extraction.covers import propose_covers
from plugins.material_extraction.driving import propose_driving
from plugins.material_extraction.held_out import held_out_seconds, propose_tests
from plugins.material_extraction.measures import (
    EYE_CORNERS,
    LEFT_EYE_LIDS,
    LIPS,
    NOSE_TIP,
    RIGHT_EYE_LIDS,
    FrameMeasures,
    eye_opening,
    frame_points,
    head_motion,
    measure,
    mouth_opening,
)
from plugins.material_extraction import words
from plugins.material_extraction.windows import merged, pick_apart, window_means
from plugins.media.audio import write_wav
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import QUALITY_FLAGS, open_training_set, write_training_set

FPS = 25.0
FRAME = 256
CROP = 64
BOX = np.array([28, 28, 228, 228], np.float32)  # every frame's crop box: 200 px square
CALM = (200, 325)  # the one calm, silent, mouth-closed stretch (5 s)
TURNED = (200, 241)  # in it, the head turned a little (the nose tip off the middle)
BLINK = (241, 261)  # then the eyes closed
SOFT = (261, 281)  # then the picture softer (not flagged, just less sharp)
BEST = (281, 325)  # then everything a cover should be


def mesh(rng: np.random.Generator, shift: np.ndarray, mouth_gap: float, lid_gap: float, nose_dx: float) -> np.ndarray:
    """float32[468, 2] in frame px: a face 100 px wide centred in the frame, the named points
    where a person's are, eye corners 60 px apart."""
    points = rng.uniform(0, 100, (468, 2)).astype(np.float32) * [1.0, 1.2]
    named = {
        EYE_CORNERS[0]: (30, 40), EYE_CORNERS[1]: (90, 40), 133: (50, 40), 362: (70, 40),
        RIGHT_EYE_LIDS[0]: (40, 40 - lid_gap / 2), RIGHT_EYE_LIDS[1]: (40, 40 + lid_gap / 2),
        LEFT_EYE_LIDS[0]: (80, 40 - lid_gap / 2), LEFT_EYE_LIDS[1]: (80, 40 + lid_gap / 2),
        LIPS[0]: (60, 90), LIPS[1]: (60, 90 + mouth_gap), NOSE_TIP: (60 + nose_dx, 65),
    }
    for index, (x, y) in named.items():
        points[index] = (x, y)
    points[:, 0] = np.clip(points[:, 0], 0, 100)
    return points + np.array([FRAME / 2 - 50, FRAME / 2 - 60], np.float32) + shift


def synthetic_video(seconds: float = 20.0, seed: int = 3) -> dict[str, np.ndarray]:
    """Per-frame arrays of a person who talks and moves, except in CALM."""
    rng = np.random.default_rng(seed)
    count = int(seconds * FPS)
    texture = cv2.resize(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), (CROP, CROP), interpolation=cv2.INTER_NEAREST)
    soft = cv2.GaussianBlur(texture, (0, 0), 1.0)
    points = np.empty((count, 468, 2), np.float32)
    faces = np.empty((count, CROP, CROP, 3), np.uint8)
    speech = np.ones(count, bool)
    for i in range(count):
        calm = CALM[0] <= i < CALM[1]
        shift = np.zeros(2) if calm else rng.normal(0, 1.5, 2)
        mouth_gap = 1.0 if calm else rng.uniform(0, 12)
        lid_gap = 1.0 if BLINK[0] <= i < BLINK[1] else 6.0
        nose_dx = 6.0 if TURNED[0] <= i < TURNED[1] else 0.0
        points[i] = mesh(np.random.default_rng(11), shift, mouth_gap, lid_gap, nose_dx)  # one layout for every frame
        faces[i] = soft if SOFT[0] <= i < SOFT[1] else texture
        speech[i] = not calm
    return {"points": points, "faces": faces, "speech": speech, "quality": np.zeros(count, np.uint8)}


def training_set_of(folder: Path, video: dict[str, np.ndarray]):
    count = len(video["speech"])
    boxes = np.repeat(BOX[None], count, axis=0)
    landmarks = landmarks_in_crop(np.concatenate([video["points"], np.zeros((count, 468, 1), np.float32)], axis=2), boxes, CROP)
    audio = folder / "audio.wav"
    write_wav(audio, np.zeros(int(count / FPS * 16000), np.float32))
    manifest = {"fps": FPS, "frame_count": count, "width": FRAME, "height": FRAME, "crop_size": CROP, "video_sha256": "x"}
    arrays = {
        "faces": video["faces"], "boxes": boxes, "landmarks": landmarks, "speech": video["speech"],
        "speech_probability": np.where(video["speech"], 0.95, 0.05).astype(np.float32),
        "mel": np.zeros((int(count * 4), 80), np.float32), "quality": video["quality"],
    }
    write_training_set(folder / "training_set.zip", manifest, arrays, audio)
    return open_training_set(folder / "training_set.zip")


@pytest.fixture(scope="module")
def calm_video(tmp_path_factory) -> tuple[FrameMeasures, np.ndarray]:
    training_set = training_set_of(tmp_path_factory.mktemp("calm"), synthetic_video())
    return measure(training_set, lambda fraction, message: None), training_set["faces"]


# Measures -----------------------------------------------------------------------------------------


def test_frame_points_undo_the_crop():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 300, (5, 468, 3)).astype(np.float32)
    boxes = np.array([[10, 20, 210, 220], [0, 0, 100, 100], [-20, -10, 280, 290], [5, 5, 69, 69], [50, 60, 178, 188]], np.float32)
    back = frame_points(landmarks_in_crop(points, boxes, 128), boxes, 128)
    np.testing.assert_allclose(back, points[..., :2], atol=1e-3)


def test_mouth_and_eye_opening_are_shares_of_the_eye_corner_distance():
    points = mesh(np.random.default_rng(1), np.zeros(2), mouth_gap=3.0, lid_gap=6.0, nose_dx=0.0)[None]
    assert mouth_opening(points)[0] == pytest.approx(3 / 60)
    assert eye_opening(points)[0] == pytest.approx(6 / 60)
    scaled = (points - points.mean(axis=1, keepdims=True)) * 2.5
    assert mouth_opening(scaled)[0] == pytest.approx(3 / 60)  # the same face nearer the camera


def test_head_motion_is_the_rigid_points_shift_per_frame_in_face_widths():
    one = mesh(np.random.default_rng(2), np.zeros(2), 1.0, 6.0, 0.0)
    steps = np.array([[0, 0], [3, 4], [3, 4], [3, 4]], np.float32)  # 5 px a frame after the first
    points = np.stack([one + steps[: i + 1].sum(axis=0) for i in range(4)] + [np.full_like(one, np.nan)])
    motion = head_motion(points, face_width=100.0)
    np.testing.assert_allclose(motion[:4], [0, 0.05, 0.05, 0.05], atol=1e-6)
    assert np.isnan(motion[4])
    talking = np.stack([mesh(np.random.default_rng(2), np.zeros(2), gap, 6.0, 0.0) for gap in (0, 12, 0)])
    np.testing.assert_allclose(head_motion(talking, 100.0), 0, atol=1e-6)  # the lips are not the head


def test_measure_reads_the_training_set(calm_video):
    measures, _ = calm_video
    assert measures.face_width == pytest.approx(100, abs=1)
    calm = slice(*BEST)
    assert measures.mouth_closed()[calm].all() and measures.eyes_open()[calm].all()
    assert not measures.eyes_open()[slice(*BLINK)].any()
    assert measures.sharpness[slice(*SOFT)].max() < 0.5 * measures.sharpness[calm].min()
    assert np.nanmean(measures.motion[slice(CALM[0] + 1, TURNED[1])]) < 1e-4 < np.nanmean(measures.motion[:CALM[0]])


# Windows ------------------------------------------------------------------------------------------


def test_window_means_equal_the_plain_means():
    values = np.random.default_rng(4).random(50)
    np.testing.assert_allclose(window_means(values, 7), [values[s : s + 7].mean() for s in range(44)])
    assert window_means(values, 51).size == 0


def test_pick_apart_takes_the_best_that_do_not_touch():
    candidates = [(0.9, 10, 20), (0.8, 15, 25), (0.7, 20, 30), (0.6, 0, 10), (0.5, 40, 50)]
    assert pick_apart(candidates, 3) == [(0.9, 10, 20), (0.7, 20, 30), (0.6, 0, 10)]
    assert pick_apart(candidates, 5, gap=5) == [(0.9, 10, 20), (0.5, 40, 50)]
    assert merged([(5, 9), (0, 3), (3, 4), (8, 12)]) == [[0, 4], [5, 12]]


# Proposals ----------------------------------------------------------------------------------------


def test_driving_clip_is_the_calm_silent_stretch_and_loops(calm_video):
    measures, faces = calm_video
    clips, notes = propose_driving(measures, faces, Config())
    best = clips[0]
    assert CALM[0] <= best["start"] and best["stop"] <= CALM[1] and best["stop"] - best["start"] >= 3 * FPS
    assert best["loop"] == "forward" and best["measures"]["loop_pose_gap"] <= 0.01
    assert "silent" in best["reason"] and "loops forward" in best["reason"]
    video_motion = float(np.nanmean(measures.motion[1:]))
    assert all(clip["measures"]["head_motion"] <= video_motion for clip in clips)
    assert [clip["score"] for clip in clips] == sorted((clip["score"] for clip in clips), reverse=True)
    assert not any("no silent" in note for note in notes)  # there is a silent stretch
    # the rest of the video moves more than its average: only the calm stretch qualifies, and the notes say so
    assert len(clips) == 1 and len(notes) == 1 and notes[0].startswith("only 1 stretch of 3 s")


def test_no_driving_clip_without_a_clean_stretch(tmp_path):
    video = synthetic_video(seconds=8.0)
    video["quality"][::50] = QUALITY_FLAGS["blurred"]  # a blurred frame every 2 s: no clean 3 s anywhere
    measures = measure(training_set_of(tmp_path, video), lambda fraction, message: None)
    clips, _ = propose_driving(measures, video["faces"], Config())
    assert clips == []
    assert propose_driving(measures, video["faces"], Config(driving_min_s=1.5, driving_max_s=1.5))[0]


def test_a_video_that_always_speaks_gets_driving_clips_and_advice(tmp_path):
    video = synthetic_video(seconds=12.0)
    video["speech"][:] = True
    measures = measure(training_set_of(tmp_path, video), lambda fraction, message: None)
    clips, notes = propose_driving(measures, video["faces"], Config())
    assert clips and "speech in 100 %" in clips[0]["reason"]
    assert "record 3 to 8 s sitting still, silent" in notes[-1]
    assert len(notes) == (2 if len(clips) < 3 else 1)


def test_cover_is_sharp_open_eyed_and_frontal(calm_video):
    measures, _ = calm_video
    covers = propose_covers(measures, Config(cover_count=3, cover_spacing_s=1.0))
    assert BEST[0] <= covers[0]["frame"] < BEST[1]
    assert all(abs(a["frame"] - b["frame"]) >= FPS for a in covers for b in covers if a is not b)
    for phrase in ("eyes open", "mouth closed", "silent", "face centred", "facing the camera"):
        assert phrase in covers[0]["reason"]
    assert not any(BLINK[0] <= cover["frame"] < SOFT[1] for cover in covers)


def test_the_reasons_are_said_again_in_chinese_from_what_a_proposal_keeps(calm_video):
    measures, faces = calm_video
    clip = propose_driving(measures, faces, Config())[0][0]
    cover = propose_covers(measures, Config(cover_count=3, cover_spacing_s=1.0))[0]
    assert words.reason(clip, "driving") == clip["reason"] and words.reason(cover, "cover") == cover["reason"]
    said = words.reason(clip, "driving", "zh-hans")
    assert said.startswith(f"{clip['measures']['duration_s']:.1f} 秒，头很稳") and "没有说话" in said and "从头循环播放" in said
    said = words.reason(cover, "cover", "zh")
    assert all(phrase in said for phrase in ("眼睛睁着", "嘴巴闭着", "没在说话", "脸在画面中间", "面对镜头"))
    older = {key: value for key, value in clip.items() if key != "video_motion"}
    assert words.reason(older, "driving", "zh") == clip["reason"]  # made before it kept what the words need


def test_test_clips_take_speech_within_the_share(calm_video):
    measures, _ = calm_video
    config = Config()
    clips, notes = propose_tests(measures, config, keep=[CALM])
    held = sum(clip["stop"] - clip["start"] for clip in clips)
    assert held == pytest.approx(held_out_seconds(20.0, config) * FPS, abs=2)
    assert held <= 0.2 * measures.frame_count
    assert all(measures.speech[clip["start"] : clip["stop"]].all() for clip in clips)
    assert all(clip["stop"] <= CALM[0] or clip["start"] >= CALM[1] for clip in clips)
    assert len(notes) == 1 and "20 s long" in notes[0] and "cannot tell lip sync from chance" in notes[0]
    assert "too short a video for 10 s" in clips[0]["reason"]


def test_held_out_seconds_grow_with_the_video_within_bounds():
    config = Config()
    assert held_out_seconds(30.0, config) == pytest.approx(6.0)  # 20 % at most
    assert held_out_seconds(60.0, config) == pytest.approx(10.0)  # at least 10 s where allowed
    assert held_out_seconds(300.0, config) == pytest.approx(30.0)  # 10 % of a long video


# Parameters ---------------------------------------------------------------------------------------


def test_presets_and_parameters():
    schema = json_schema()
    jsonschema.validate({"preset": "draft", "driving_min_s": 2.5, "cover_count": 4}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"driving_count": 9}, schema)
    preset, config = config_from({"preset": "draft", "driving_count": 4}, "standard")
    assert (preset, config.driving_count, config.search_step) == ("draft", 4, 10)
    assert config_from({}, "standard") == ("standard", Config())
    with pytest.raises(StageFailed) as failure:
        config_from({"driving_min_s": 9.0, "driving_max_s": 4.0}, "standard")
    assert failure.value.code == "bad_parameters"


def test_frames_without_a_face_are_left_out(tmp_path):
    video = synthetic_video(seconds=12.0)
    gone = np.zeros(len(video["speech"]), bool)
    gone[[0, 1, 2, 150, 151, 280]] = True  # before, in and right after the calm stretch's best frames
    video["points"][gone] = np.nan
    video["quality"][gone] = QUALITY_FLAGS["no_face"]
    measures = measure(training_set_of(tmp_path, video), lambda fraction, message: None)
    clips, _ = propose_driving(measures, video["faces"], Config())
    covers = propose_covers(measures, Config(cover_count=10, cover_spacing_s=0.0))
    tests, _ = propose_tests(measures, Config(), keep=[])
    assert clips and covers and tests
    for start, stop in [(clip["start"], clip["stop"]) for clip in clips + tests]:
        assert not gone[start:stop].any()
    assert not any(gone[cover["frame"]] for cover in covers)
    json.dumps([clips, covers, tests], allow_nan=False)  # no NaN leaks into materials.json
