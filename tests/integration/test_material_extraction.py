"""material_extraction on a real training set, made from ../shared/samples/congress_60s_256.mp4 by
the preprocessing plugins as they run (bench.preprocess): the materials file has every key the
trainers and rendering read; the driving clips hold the head steadier than the video does on
average, measured here independently of the plugin's own measure; the test clips are speech held
out of training and nothing else is; and a training set with no clean stretch, or made from
another video, fails with words a person can act on."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bench.preprocess import preprocess
from host.storage.blobs import blob_key
from host.storage.local import LocalBlobStore
from plugins.crop.geometry import sharpness
from plugins.material_extraction.server import ARTIFACT_KIND, ARTIFACT_NAME, MaterialExtraction
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import QUALITY_FLAGS, Streamed, open_training_set, write_training_set
from tests.fixtures.services import require_samples
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

pytestmark = pytest.mark.samples

MODEL_KEYS = (  # docs/model.md: what trainers and rendering read
    "format", "format_version", "fps", "frame_count", "width", "height",
    "driving_clips", "covers", "test_clips", "chosen", "exclude_from_training",
)


class Made:
    """The sample's video and training set in a blob store, as material_extraction gets them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = LocalBlobStore(root / "blobs")
        self.video = require_samples() / "congress_60s_256.mp4"
        folder = root / "preprocess"
        folder.mkdir()
        preprocess(self.video, self.blobs, folder, "standard")
        self.training_set = folder / "crop-training_set.zip"
        self.runs = 0

    def ref(self, path: Path, kind: str) -> LocalInput:
        info = self.blobs.put_file(blob_key("test", kind, "made", path.name), path)
        return LocalInput(plugin_pb.ArtifactRef(key=info.key, kind=kind, sha256=info.sha256, size=info.size, name=path.name), path)

    def run(self, parameters: dict | None = None, training_set: Path | None = None, video: Path | None = None) -> tuple[dict, list]:
        """(materials, the run's events) of one run of the plugin."""
        self.runs += 1
        workdir = self.root / f"run-{self.runs}"
        workdir.mkdir()
        events: list[plugin_pb.RunResponse] = []
        ctx = RunContext(
            avatar_id="test", stage="material_extraction", run_id=f"run-{self.runs}", attempt=1, parameters=parameters or {},
            workdir=workdir, inputs=[self.ref(video or self.video, "video"), self.ref(training_set or self.training_set, "training_set")],
            resume_checkpoint=None, blobs=self.blobs, emit=events.append,
        )
        MaterialExtraction().run(ctx)
        assert [(ref.name, ref.kind) for ref in ctx.outputs] == [(ARTIFACT_NAME, ARTIFACT_KIND)]
        fetched = workdir / "fetched.json"
        self.blobs.get_file(ctx.outputs[0].key, fetched, ctx.outputs[0].sha256)
        return json.loads(fetched.read_text()), events


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Made:
    require_samples()
    return Made(tmp_path_factory.mktemp("materials"))


@pytest.fixture(scope="module")
def first_run(made) -> tuple[dict, list]:
    return made.run()


@pytest.fixture(scope="module")
def materials(first_run) -> dict:
    return first_run[0]


def head_motion_per_frame(training_set_path: Path) -> np.ndarray:
    """This test's own measure of head motion: how far the whole face mesh's centre moves into each
    frame, in full-frame pixels, over the face's median width (not the plugin's rigid points)."""
    training_set = open_training_set(training_set_path)
    boxes = np.asarray(training_set["boxes"])
    scale = (boxes[:, 2] - boxes[:, 0]) / training_set.manifest["crop_size"]
    points = np.asarray(training_set["landmarks"]) * scale[:, None, None] + boxes[:, None, :2]
    width = np.nanmedian(points[..., 0].max(axis=1) - points[..., 0].min(axis=1))
    centres = points.mean(axis=1)
    return np.linalg.norm(np.diff(centres, axis=0), axis=1) / width  # row i: into frame i + 1


def test_materials_have_every_key_and_ranked_proposals(materials):
    assert all(key in materials for key in MODEL_KEYS)
    assert (materials["format"], materials["format_version"], materials["frame_count"]) == ("twinforge.materials", 1, 1499)
    driving, covers, tests = materials["driving_clips"], materials["covers"], materials["test_clips"]
    assert 3 <= len(driving) <= 5 and len(covers) >= 1 and len(tests) >= 1
    for proposals in (driving, covers):
        scores = [item["score"] for item in proposals]
        assert scores == sorted(scores, reverse=True)
    assert all(item["reason"] and item["id"] for item in driving + covers + tests)
    assert all(clip["loop"] in ("forward", "pingpong") and clip["stop"] - clip["start"] >= 75 for clip in driving)
    chosen = materials["chosen"]
    assert chosen["driving"] == driving[0]["id"] and chosen["cover"] == covers[0]["id"]
    assert chosen["tests"] == [clip["id"] for clip in tests]
    # this speaker never pauses for 3 s: the driving clips hold speech, and the materials say so
    assert any("no silent 3 s" in note for note in materials["notes"])


def test_progress_is_reported_to_the_end(first_run):
    _, events = first_run
    fractions = [event.progress.fraction for event in events if event.HasField("progress")]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert any(event.HasField("artifact") and event.artifact.artifact.kind == ARTIFACT_KIND for event in events)


def test_driving_clips_are_steadier_than_the_video(made, materials):
    motion = head_motion_per_frame(made.training_set)
    average = float(np.nanmean(motion))
    for clip in materials["driving_clips"]:
        inside = float(np.nanmean(motion[clip["start"] : clip["stop"] - 1]))
        assert inside < average, f"driving clip {clip['id']} moves {inside:.5f} a frame, the video {average:.5f}"
    best = materials["driving_clips"][0]
    assert float(np.nanmean(motion[best["start"] : best["stop"] - 1])) < 0.9 * average


def test_test_clips_are_held_out_and_nothing_else(made, materials):
    training_set = open_training_set(made.training_set)
    count, fps = training_set.frame_count, training_set.manifest["fps"]
    tests = sorted(materials["test_clips"], key=lambda clip: clip["start"])
    spans = [[clip["start"], clip["stop"]] for clip in tests]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # apart
    assert materials["exclude_from_training"] == spans  # exactly the test clips
    excluded = np.zeros(count, bool)
    for start, stop in materials["exclude_from_training"]:
        excluded[start:stop] = True
    assert excluded.sum() >= 10 * fps  # enough speech to tell sync from chance
    assert excluded.sum() <= 0.2 * count  # training keeps 80 % at least
    speech = np.asarray(training_set["speech"])
    assert all(speech[clip["start"] : clip["stop"]].mean() >= 0.5 for clip in tests)
    driving = next(clip for clip in materials["driving_clips"] if clip["id"] == materials["chosen"]["driving"])
    assert not excluded[driving["start"] : driving["stop"]].any()


def test_cover_is_sharper_than_most_faces(made, materials):
    faces = open_training_set(made.training_set)["faces"]
    frame = materials["covers"][0]["frame"]
    every = np.array([sharpness(np.asarray(face)) for face in faces[::10]])
    assert sharpness(np.asarray(faces[frame])) >= np.median(every)


def test_a_short_hold_out_says_so(made):
    materials, _ = made.run({"test_min_s": 15.0, "preset": "draft"})
    held = sum(stop - start for start, stop in materials["exclude_from_training"])
    assert held <= 0.2 * materials["frame_count"] + 1
    assert any("cannot tell lip sync from chance" in note for note in materials["notes"])
    assert all("too short a video for 15 s" in clip["reason"] for clip in materials["test_clips"])
    assert len(materials["driving_clips"]) == 3  # the draft preset proposes three


def test_no_clean_stretch_fails_with_advice(made):
    source = open_training_set(made.training_set)
    blurred = made.root / "blurred.zip"
    arrays = {name: np.asarray(source[name]) for name in source.arrays if name != "faces"}
    faces = source["faces"]
    arrays["faces"] = Streamed(faces.shape, faces.dtype, (faces[i : i + 250] for i in range(0, len(faces), 250)))
    arrays["quality"] = np.where(np.arange(source.frame_count) % 50 == 0, QUALITY_FLAGS["blurred"], 0).astype(np.uint8)
    audio = made.root / "audio.wav"
    audio.write_bytes(_member(made.training_set, "audio.wav"))
    manifest = {key: value for key, value in source.manifest.items() if key not in ("format", "format_version", "arrays")}
    write_training_set(blurred, manifest, arrays, audio)
    with pytest.raises(StageFailed) as failure:
        made.run(training_set=blurred)
    assert failure.value.code == "no_driving_clip"
    assert "3 s" in failure.value.message and "sit still" in failure.value.advice


def test_a_training_set_of_another_video_is_refused(made):
    with pytest.raises(StageFailed) as failure:
        made.run(video=require_samples() / "speaker_a_8s_512.mp4")
    assert failure.value.code == "inputs_mismatch" and "crop stage again" in failure.value.advice


def _member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)
