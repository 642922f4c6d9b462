"""The evaluation on real people: the sync measure against true and false pairings of the sample
recordings, `twinforge evaluate` on a sample, and the `sync_detection` and `quality_eval` stages
on a tiny model trained on 20 s of the congress sample, as the host runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bench.preprocess import run_stage
from host.evaluate_command import evaluate_command
from plugins.lipsync.sync_measure import speech_frames
from plugins.evaluation import measures, report, words
from plugins.evaluation.measure import frames_of
from plugins.evaluation.quality_eval import QualityEval
from plugins.evaluation.sync import proved_sync
from plugins.evaluation.sync_detection import SyncDetection
from plugins.media.audio import read_audio
from plugins.media.frames import probe
from tests.fixtures import trained_model
from tests.fixtures.services import require_samples

pytestmark = pytest.mark.samples

# Each sample video with the sound it was recorded with (silent_speaker's is a separate file).
TRUE_PAIRS = {
    "speaker_a_8s_512.mp4": "speaker_a_8s_512.mp4",
    "speaker_b_8s_512.mp4": "speaker_b_8s_512.mp4",
    "congress_60s_256.mp4": "congress_60s_256.mp4",
    "silent_speaker_10s.mp4": "silent_speaker_10s.wav",
}
OTHER_SPEAKER = {
    "speaker_a_8s_512.mp4": "speaker_b_8s_512.mp4",
    "speaker_b_8s_512.mp4": "speaker_a_8s_512.mp4",
    "congress_60s_256.mp4": "silent_speaker_10s.wav",
    "silent_speaker_10s.mp4": "congress_60s_256.mp4",
}
SHIFT_S = 0.6  # inside the measure's search of a second either way, so the late sound is found where it is
# Where the proved sync measure (plugins/lipsync/sync_measure.py) misses the bar on a sample,
# measured, not hidden: a strict xfail, so that a measure that comes to pass it fails here until
# the entry is removed.
MISSES_RANKING: dict[str, str] = {}
MISSES_LATE: dict[str, str] = {}
MISSES_OFFSET = {
    "speaker_a_8s_512.mp4": "8 s, under the 10 s the measure needs: its best offset is +9 (confidence 0.147)",
}


def marked(misses: dict[str, str]) -> list:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=misses[name])) if name in misses else name
        for name in sorted(TRUE_PAIRS)
    ]
SECONDS = 20
ITERATIONS = 3


def fitted(samples: np.ndarray, length: int) -> np.ndarray:
    """The sound cut or padded with silence to `length` samples (repeated when shorter, so that a
    short voice under a long video still speaks all along)."""
    if len(samples) < length:
        samples = np.tile(samples, -(-length // len(samples)))
    return samples[:length]


@pytest.fixture(scope="module")
def pairings() -> dict[str, dict[str, dict]]:
    """The sync measure of each sample video with its own sound, the same sound SHIFT_S late, and
    another speaker's sound."""
    samples = require_samples()
    out = {}
    for name, own in TRUE_PAIRS.items():
        video = samples / name
        fps = probe(video).fps
        track = measures.track(frames_of(video))
        sound = fitted(read_audio(samples / own), int(round(len(track.lips) / fps * 16000)))
        late = np.concatenate([np.zeros(int(SHIFT_S * 16000), np.float32), sound])[: len(sound)]
        other = fitted(read_audio(samples / OTHER_SPEAKER[name]), len(sound))
        out[name] = {
            label: proved_sync(track.opening, audio, fps, speech_frames(audio, fps, len(track.lips)))
            for label, audio in (("true", sound), ("shifted", late), ("other", other))
        }
    return out


@pytest.mark.parametrize("name", marked(MISSES_RANKING))
def test_the_sync_measure_ranks_the_true_pairing_above_the_other_speakers_sound(pairings, name):
    found = pairings[name]
    assert found["true"]["sync_confidence"] > found["other"]["sync_confidence"], found


@pytest.mark.parametrize("name", marked(MISSES_LATE))
def test_the_sync_measure_finds_the_sound_played_late_at_its_delay(pairings, name):
    """Measured from the recording's own offset (speaker_a's own sound peaks at +9)."""
    delay = -round(SHIFT_S * 25)  # the mouth moves before the late sound: a negative offset
    found = pairings[name]
    assert abs(found["shifted"]["sync_offset"] - found["true"]["sync_offset"] - delay) <= 2, found


@pytest.mark.parametrize("name", marked(MISSES_OFFSET))
def test_the_sync_measure_finds_the_true_pairing_in_sync_within_a_frame(pairings, name):
    assert abs(pairings[name]["true"]["sync_offset"]) <= 1, pairings[name]["true"]


def test_evaluate_measures_a_sample_against_itself_as_the_ceiling():
    samples = require_samples()
    video = samples / "speaker_a_8s_512.mp4"
    result = CliRunner().invoke(evaluate_command, [str(video), "--reference", str(video), "--preset", "draft", "--json"])
    assert result.exit_code == 3, result.output  # measured, and cannot pass: no floor given, and 8 s cannot judge sync
    made = json.loads(result.output)
    render, ceiling = made["mean"]["render"], made["mean"]["ceiling"]
    assert render["lmd"] == 0.0 and render["mouth_ssim"] == pytest.approx(1.0) and render["sharpness_ratio"] == pytest.approx(1.0)
    assert render["sync_confidence"] == pytest.approx(ceiling["sync_confidence"])
    assert render["face_share"] == 1.0 and render["jitter"] > 0 and render["lip_motion"] > 0
    assert {item["rule"] for item in made["unchecked"]} >= {"lmd", "mouth_ssim"}  # no floor given: not checked, so no pass
    checked = {check["rule"]: check["passed"] for check in made["checks"]}
    assert checked["jitter"] is True and checked["sharpness"] is True and checked["lip_motion"] is True
    assert "sync_above_chance" not in checked and "no clip could judge it" in made["summary"][0]
    assert made["words"][0].startswith("The video does not pass: lip sync comes first, and no test part could judge it")


def test_evaluate_says_its_report_in_chinese():
    """`--lang zh`: the measures by their Chinese names and the verdict as a person reads it, with
    no rule's or measure's id."""
    video = require_samples() / "speaker_a_8s_512.mp4"
    result = CliRunner().invoke(evaluate_command, [str(video), "--reference", str(video), "--preset", "draft", "--lang", "zh"])
    assert result.exit_code == 3, result.output
    assert "片段 speaker_a_8s_512，8.0 秒" in result.output and "测量项\t视频\t原片\t录像" in result.output
    verdict = result.output.split("\n\n", 1)[1]
    assert verdict.startswith("视频没有通过：口型同步是第一位的，但没有一段测试能判断它")
    assert "⚠️ 你的唇形没法检查：没有没改动过的原片可以对比，所以视频还不能通过。" in verdict and "✅ 嘴唇一帧一帧平滑地移动，和你的一样。" in verdict
    assert not re.search(r"[A-Za-z]{3,}", verdict), verdict


def test_evaluate_asks_for_the_sound_of_a_video_without_one():
    video = require_samples() / "silent_speaker_10s.mp4"
    result = CliRunner().invoke(evaluate_command, [str(video)])
    assert result.exit_code == 1 and "--audio" in result.output


@pytest.fixture(scope="module")
def flow(tmp_path_factory) -> dict:
    """20 s of congress preprocessed, its materials, a tiny trained model and both evaluation
    stages run as the flow runs them: quality_eval on sync_detection's outputs."""
    torch.set_num_threads(2)
    prepared = trained_model.prepared(require_samples(), tmp_path_factory.mktemp("evaluation"))
    models = trained_model.trained(prepared, ("syncnet", "audio2lip", "generator"), ITERATIONS)
    blobs, folder, materials = prepared["blobs"], prepared["folder"], prepared["materials"]
    base = [prepared["video"], prepared["training_set"], materials]
    inputs = base + list(models.values())
    synced = run_stage(SyncDetection(), inputs, blobs, folder, {"preset": "draft", "clips": 1})[1]
    return {
        "materials": json.loads(materials.path.read_text()),
        "inputs": inputs,
        "sync_detection": synced,
        "quality_eval": run_stage(QualityEval(), inputs + synced, blobs, folder, {"preset": "draft", "clips": 1})[1],
    }


def reports_of(outputs: list) -> dict:
    return next(json.loads(item.path.read_text()) for item in outputs if item.ref.kind == "evaluation")


def test_sync_detection_renders_the_test_clip_and_the_unseen_voices_and_measures_their_sync(flow):
    made = reports_of(flow["sync_detection"])
    test = next(c for c in flow["materials"]["test_clips"] if c["id"] == flow["materials"]["chosen"]["tests"][0])
    own = [clip for clip in made["clips"] if clip["kind"] == "own"]
    voiced = [clip for clip in made["clips"] if clip["kind"] == "voice"]
    assert [(clip["start"], clip["stop"]) for clip in own] == [(test["start"], test["stop"])]
    assert len(voiced) >= 2 and all(clip["seconds"] >= 12 for clip in voiced)
    for clip in own + voiced:
        roles = ("render", "floor", "ceiling") if clip["kind"] == "own" else ("render", "floor")
        for role in roles:
            assert -1 <= clip[role]["sync_confidence"] <= 2 and -25 <= clip[role]["sync_offset"] <= 25
            assert clip[role]["expert_confidence"] is not None and "lmd" not in clip[role]
    assert {check["group"] for check in made["checks"]} <= {"sync", "motion"}
    renders = [item for item in flow["sync_detection"] if item.ref.kind == "evaluation_render"]
    assert len(renders) == 2 * len(made["clips"])
    rendered = probe(next(item.path for item in renders if json.loads(item.ref.metadata_json) == {
        "clip": own[0]["id"], "role": "render", "kind": "own", "voice": ""}))
    assert abs(rendered.frame_count - (test["stop"] - test["start"])) <= 1


def test_quality_eval_measures_the_picture_and_gives_the_one_verdict_sync_first(flow):
    made = reports_of(flow["quality_eval"])
    own = next(clip for clip in made["clips"] if clip["kind"] == "own")
    assert own["ceiling"]["lmd"] == 0.0 and own["ceiling"]["mouth_psnr"] == 100.0 and own["ceiling"]["mouth_ssim"] == pytest.approx(1.0)
    for role in ("render", "floor"):
        assert own[role]["lmd"] > 0 and own[role]["mouth_psnr"] < 100 and own[role]["mouth_ssim"] < 1
        assert own[role]["face_share"] > 0.9 and own[role]["mouth_sharpness"] > 0
        assert "sync_confidence" in own[role]  # sync_detection's measures, carried into the round's report
    groups = [check["group"] for check in made["checks"]]
    assert groups[0] == "sync" and {"sync", "motion", "picture"} <= set(groups)
    assert any(check["kind"] == "voice" and check["rule"] == "sync_above_floor" for check in made["checks"])
    chinese = words.lines(report.results(made), "zh")  # what the round's reader says of a real verdict
    assert len(chinese) > len(set(groups)) and not re.search(r"[A-Za-z]{3,}", "".join(chinese)), chinese
    assert isinstance(made["passed"], bool) and made["summary"]
    kinds = {item.ref.kind for item in flow["quality_eval"]}
    assert kinds == {"evaluation", "preview", "voice_preview"}


def test_quality_eval_refuses_to_judge_a_round_without_sync_detection(flow, tmp_path):
    from plugins.sdk.errors import StageFailed

    renders = [item for item in flow["sync_detection"] if item.ref.kind == "evaluation_render"]
    with pytest.raises(StageFailed, match="sync_detection"):
        run_stage(QualityEval(), flow["inputs"] + renders, None, tmp_path, {"preset": "draft"})
