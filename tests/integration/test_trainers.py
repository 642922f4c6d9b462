"""The four trainer plugins on a real person, as the host runs them (tests/fixtures/trained_model.py):
20 s of the congress sample preprocessed by the five stages, its materials proposed by
material_extraction, then syncnet,
audio2lip, generator and refiner each trained a few iterations of the draft networks by its
Trainer plugin with the inputs the flow gives it (the video, the training set, the materials and
the model files it needs), and the graph rendered to an MP4 for a voice it never heard."""

from __future__ import annotations

import json

import av
import cv2
import numpy as np
import pytest
import torch

from bench.preprocess import run_stage
from plugins.lipsync import data as lipdata
from plugins.lipsync.graph import load_graph
from plugins.lipsync.render import model_lower_faces, render_video
from plugins.media.audio import read_audio
from plugins.media.frames import probe
from plugins.sdk.context import LocalInput
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import open_training_set
from plugins.trainer.plugin import Trainer
from tests.fixtures import trained_model
from tests.fixtures.services import require_samples

pytestmark = pytest.mark.samples

ITERATIONS = 3
ORDER = ("syncnet", "audio2lip", "generator", "refiner")
VOICE = "drive_speech_5s_a.wav"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    """The flow's outputs up to the materials: what every trainer gets as inputs."""
    torch.set_num_threads(2)
    return trained_model.prepared(require_samples(), tmp_path_factory.mktemp("trainers"))


@pytest.fixture(scope="module")
def trained(prepared) -> dict[str, LocalInput]:
    """Each sub-model's model file, trained in the flow's order on its upstream's files."""
    return trained_model.trained(prepared, ORDER, ITERATIONS)


@pytest.mark.parametrize("name", ORDER)
def test_each_trainer_trains_its_iterations_and_stores_its_model_file(trained, name):
    model = trained[name]
    metadata = json.loads(model.ref.metadata_json)
    assert model.ref.name == f"{name}.pt" and metadata["submodel"] == name
    assert metadata["preset"] == "draft" and metadata["iterations"] == ITERATIONS and metadata["crop_size"] == 128
    weights = torch.load(model.path, weights_only=True)
    tensors = [value for value in _leaves(weights) if isinstance(value, torch.Tensor) and value.is_floating_point()]
    assert tensors and all(torch.isfinite(t).all() for t in tensors)


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    else:
        yield value


def test_a_trainer_without_the_model_files_it_needs_says_which_to_train_first(prepared, tmp_path):
    inputs = [prepared["video"], prepared["training_set"], prepared["materials"]]
    with pytest.raises(StageFailed) as failure:
        run_stage(Trainer("generator"), inputs, prepared["blobs"], tmp_path, {"preset": "draft", "iterations": 1})
    assert failure.value.code == "missing_upstream_model" and "audio2lip" in failure.value.message


def test_the_trained_graph_renders_new_speech_to_a_video_of_its_length_with_its_sound(prepared, trained, tmp_path):
    voice = require_samples() / VOICE
    graph = load_graph({name: trained[name].path for name in ("audio2lip", "generator", "refiner")})
    materials = json.loads(prepared["materials"].path.read_text())
    fps = probe(prepared["video"].path).fps
    out = tmp_path / "answer.mp4"
    summary = render_video(
        prepared["video"].path, prepared["training_set"].path, materials, voice, model_lower_faces(graph, prepared["training_set"].path, fps), out
    )
    seconds = len(read_audio(voice)) / 16000
    rendered = probe(out)
    assert abs(rendered.frame_count / rendered.fps - seconds) <= 1 / fps
    assert summary["frames"] == rendered.frame_count
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
    sound = read_audio(out)
    assert abs(len(sound) / 16000 - seconds) < 0.1 and float(abs(sound).max()) > 0.05


def test_the_lower_faces_at_the_persons_resolution_line_up_with_the_crops(prepared):
    """The refiner learns to draw `lower` from the generator's picture of the crops' lower face:
    the two must show the same square of the face, to the pixel."""
    ts = open_training_set(prepared["training_set"].path)
    lower = ts["lower"]
    box = np.asarray(ts.manifest["lower_box"], np.float32)
    assert lower.shape[1] == lower.shape[2] == ts.manifest["lower_size"] and 64 <= lower.shape[1] <= 192
    frames = np.arange(0, ts.frame_count, 25)
    geometry = lipdata.Geometry(box, np.zeros((len(lipdata.LIPS), 2), np.float32), 1.0)
    from_crops = lipdata.cut_lower(np.asarray(ts["faces"][frames]), geometry, 32).astype(np.float32)
    native = np.stack([cv2.resize(np.asarray(p), (32, 32), interpolation=cv2.INTER_AREA) for p in lower[frames]]).astype(np.float32)
    assert np.abs(from_crops - native).mean() < 4.0  # levels: the same picture, only cut at two resolutions
    shifted = np.roll(native, 1, axis=1)
    assert np.abs(from_crops - shifted).mean() > np.abs(from_crops - native).mean() + 0.5  # a pixel off shows
