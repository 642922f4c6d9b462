"""The cutout stage on four seconds of the real congress sample, preprocessed by the real plugins:
the person's face is kept whole and the backdrop beside the head is gone, the three outputs follow
the documented formats and agree with each other, the preview shows the checkerboard behind the
person, and a run that crashes after a checkpoint resumes to the very same alpha."""

from __future__ import annotations

import zipfile
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from plugins.cutout import pipeline
from plugins.cutout.artifact import read_cutout
from plugins.cutout.render import CHECKER_SHADES
from plugins.cutout.server import CutoutStage
from plugins.cutout.trimap import hull_mask
from plugins.sdk.context import RunContext
from plugins.sdk.training_set import open_training_set
from tests.fixtures.cutout_inputs import COVER, DRIVING, Prepared, fetched, prepare, run_plugin
from tests.fixtures.services import require_samples

pytestmark = pytest.mark.samples

SECONDS = 4.0
FAR = 0.5  # "far outside the face": more than half the face's width from its hull, above the chin
MAX_SECONDS_PER_FRAME = 0.5  # measured 0.014-0.03 at 256 px on 2 cores; a regression shows here


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    return prepare(tmp_path_factory.mktemp("cutout"), require_samples() / "congress_60s_256.mp4", SECONDS)


@pytest.fixture(scope="module")
def cut(prepared: Prepared) -> tuple[RunContext, dict]:
    ctx = run_plugin(CutoutStage(), prepared, prepared.inputs, {}, "cut-1")
    return ctx, fetched(prepared, ctx)


def face_regions(prepared: Prepared, number: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(inside the face mesh's hull, far outside it above the chin) for frame `number`."""
    trained = open_training_set(prepared.of("training_set").path)
    box = trained["boxes"][number]
    points = box[:2] + trained["landmarks"][number] * ((box[2] - box[0]) / trained.manifest["crop_size"])
    hull = hull_mask(points, size)
    distance = cv2.distanceTransform((~hull).astype(np.uint8), cv2.DIST_L2, 5)
    far = (distance > FAR * np.ptp(points[:, 0])) & (np.arange(size[1])[:, None] < points[:, 1].max())
    return hull, far


def test_the_face_is_kept_and_the_backdrop_beside_it_is_gone(prepared, cut):
    cutout = read_cutout(cut[1]["cutout"].path)
    size = (prepared.info.width, prepared.info.height)
    frames = [(cutout.clip.start + row, cutout.alpha[row]) for row in range(len(cutout.alpha))] + [(cutout.cover, cutout.cover_alpha)]
    for number, alpha in frames:
        inside, far = face_regions(prepared, number, size)
        assert far.mean() > 0.02, "the frame has backdrop far from the face"
        assert alpha[inside].mean() / 255 > 0.99, f"frame {number}: the face is not whole"
        assert alpha[far].mean() / 255 < 0.02, f"frame {number}: backdrop left beside the head"


def test_the_outputs_follow_the_documented_formats(prepared, cut):
    ctx, outputs = cut
    assert set(outputs) == {"cutout", "cutout_frames", "cutout_preview"}
    height, width = prepared.info.height, prepared.info.width
    with np.load(outputs["cutout"].path, allow_pickle=False) as data:
        assert data["alpha"].dtype == np.uint8 and data["alpha"].shape == (DRIVING[1] - DRIVING[0], height, width)
        assert data["cover_alpha"].shape == (height, width)
        assert (int(data["start"]), int(data["stop"]), int(data["cover"]), int(data["version"])) == (*DRIVING, COVER, 1)
        assert "background" not in data.files  # the recorded background is kept
        alpha, cover_alpha = data["alpha"], data["cover_alpha"]
    with zipfile.ZipFile(outputs["cutout_frames"].path) as frames:
        names = sorted(frames.namelist())
        assert names == sorted([f"frame_{n:06d}.png" for n in range(*DRIVING)] + [f"cover_{COVER:06d}.png"])
        for name, expected in ((f"frame_{DRIVING[0] + 7:06d}.png", alpha[7]), (f"cover_{COVER:06d}.png", cover_alpha)):
            rgba = cv2.imdecode(np.frombuffer(frames.read(name), np.uint8), cv2.IMREAD_UNCHANGED)
            assert rgba.shape == (height, width, 4) and np.array_equal(rgba[..., 3], expected)
    _, far = face_regions(prepared, DRIVING[0], (width, height))
    with av.open(str(outputs["cutout_preview"].path)) as preview:
        shown = [frame.to_ndarray(format="rgb24") for frame in preview.decode(video=0)]
    assert len(shown) == len(alpha) and shown[0].shape == (height, width, 3)
    backdrop = shown[0][far & (alpha[0] == 0)].astype(float)
    assert np.abs(backdrop - np.array(CHECKER_SHADES)[:, None, None]).min(axis=0).mean() < 8, "the checkerboard shows behind the person"
    regions = ctx.summary["regions"]
    assert all(set(r) == {"id", "point", "box", "area", "contact"} for r in regions)
    assert 0 < ctx.summary["seconds_per_frame"] < MAX_SECONDS_PER_FRAME


def test_a_crashed_cutout_resumes_to_the_same_alpha(prepared, cut, monkeypatch):
    monkeypatch.setattr(pipeline, "CHECKPOINT_EVERY_S", 0.0)
    real = pipeline.Cutter.__call__

    def crash_in_second_chunk(self, first, stop):
        if first >= DRIVING[0] + pipeline.CHUNK_FRAMES:
            raise RuntimeError("the worker died")
        return real(self, first, stop)

    monkeypatch.setattr(pipeline.Cutter, "__call__", crash_in_second_chunk)
    events: list = []
    with pytest.raises(RuntimeError, match="the worker died"):
        run_plugin(CutoutStage(), prepared, prepared.inputs, {}, "cut-crash", events)
    (checkpoint,) = [e.artifact.artifact for e in events if e.HasField("artifact") and e.artifact.artifact.kind == "checkpoint"]
    monkeypatch.setattr(pipeline.Cutter, "__call__", real)
    saved = prepared.folder / "checkpoint.npz"
    prepared.blobs.get_file(checkpoint.key, saved, checkpoint.sha256)
    resumed = resume(prepared, saved)
    assert resumed.summary["resumed_at_frame"] == DRIVING[0] + pipeline.CHUNK_FRAMES
    again = read_cutout(fetched(prepared, resumed)["cutout"].path)
    first = read_cutout(cut[1]["cutout"].path)
    assert np.array_equal(again.alpha, first.alpha) and np.array_equal(again.cover_alpha, first.cover_alpha)


def resume(prepared: Prepared, checkpoint: Path) -> RunContext:
    workdir = prepared.folder / "work-cut-crash-2"
    workdir.mkdir()
    ctx = RunContext(
        avatar_id="av1", stage="cutout", run_id="cut-crash", attempt=2, parameters={}, workdir=workdir, inputs=prepared.inputs,
        resume_checkpoint=checkpoint, blobs=prepared.blobs, emit=lambda event: None,
    )
    CutoutStage().run(ctx)
    return ctx
