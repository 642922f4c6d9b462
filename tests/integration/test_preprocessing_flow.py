"""Preprocessing through the host: a clip of a real person submitted over gRPC runs vad,
audio_features, face_track and segmentation, and then crop, each picked up by a real worker
process from the queue and routed to the real plugin, until the training set is stored; and a crop
whose worker is killed after its first checkpoint resumes on another worker to the same training
set as an uninterrupted run.

The clip is 12 s of the congress sample, too short for the intake check (the draft preset asks for
30 s), so these tests start the flow after `video_analysis`: DEFAULT_FLOW without its root."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from host.artifacts import refs_from_json
from host.flow import DEFAULT_FLOW, Flow
from host.storage import models
from host.channels import host_channel_aio
from host.settings import get_settings
from plugins.audio_features.server import AudioFeatures
from plugins.crop import server as crop_server
from plugins.crop.server import Crop
from plugins.face_track.server import FaceTrack
from plugins.media.frames import probe
from plugins.sdk.context import RunContext
from plugins.sdk.training_set import TrainingSet, open_training_set
from plugins.segmentation.server import Segmentation
from plugins.vad.server import Vad
from plugins.video_analysis.detectors import FaceDetector
from tests.fixtures.services import require_samples, start_plugin
from tests.integration.test_host_flow import upload, wait_registered
from tests.integration.test_scheduler import notes, until, workers  # noqa: F401 (workers is a fixture)
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

pytestmark = pytest.mark.samples

CLIP_SECONDS = 12
CROP_SIZE = 128  # the `standard` preset, the default
UPSTREAM = ("vad", "audio_features", "face_track", "segmentation")
AFTER_INTAKE = Flow(
    needs={stage: tuple(s for s in needs if s != "video_analysis") for stage, needs in DEFAULT_FLOW.needs.items() if stage != "video_analysis"}
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "congress_12s.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(require_samples() / "congress_60s_256.mp4"), "-t", str(CLIP_SECONDS),
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", str(path)],
        check=True,
    )
    return path


class StallingCrop(Crop):
    """The real crop, held after its first checkpoint on its first run only, so that the test can
    kill the worker running it at a known point; the plugin sees the kill as its call cancelled."""

    def __init__(self) -> None:
        self.held = threading.Event()

    def run(self, ctx: RunContext) -> None:
        if not self.held.is_set():
            save = ctx.save_checkpoint

            def save_then_hold(path, metadata=None):
                ref = save(path, metadata)
                self.held.set()
                while True:
                    ctx.check_cancelled()
                    time.sleep(0.05)
                return ref

            ctx.save_checkpoint = save_then_hold
        super().run(ctx)


@contextlib.asynccontextmanager
async def preprocessing(host: str, crop: Crop):
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        for plugin in (Vad(), AudioFeatures(), FaceTrack(), Segmentation(), crop):
            await start_plugin(plugin, stack)
            await wait_registered(stub, plugin.stages[0])
        yield stub


def runs_of(avatar_id: str, stage: str) -> list[models.StageRun]:
    return list(models.StageRun.select().where((models.StageRun.avatar == avatar_id) & (models.StageRun.stage == stage)).order_by(models.StageRun.created_at))


def succeeded(avatar_id: str, stage: str, count: int = 1) -> list[models.StageRun] | None:
    """The stage's runs once `count` of them succeeded; fails at once when any run failed."""
    every = [run for s in (*UPSTREAM, "crop") for run in runs_of(avatar_id, s)]
    broken = [run for run in every if run.state == "failed"]
    assert not broken, [(run.stage, run.error_json) for run in broken]
    runs = runs_of(avatar_id, stage)
    return runs if sum(run.state == "succeeded" for run in runs) >= count else None


def output(run: models.StageRun, kind: str) -> dict:
    (ref,) = [ref for ref in json.loads(run.outputs_json) if ref["kind"] == kind]
    return ref


def fetched(runtime, ref: dict, folder: Path) -> Path:
    path = folder / f"{ref['key'].split('/')[3]}-{ref['name']}"
    runtime.blobs.get_file(ref["key"], path, ref["sha256"])
    return path


async def submitted(stub, clip: Path) -> str:
    avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Pre", owner="cli:pre"))).avatar
    video = await upload(stub, avatar.avatar_id, clip, chunk=1 << 20)
    reply = await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar.avatar_id, video=video))
    assert sorted(run.stage for run in reply.started) == sorted(UPSTREAM)
    return avatar.avatar_id


async def test_a_submitted_clip_runs_the_whole_chain_to_a_training_set(host, runtime, workers, clip, tmp_path):
    runtime.flow = AFTER_INTAKE
    async with preprocessing(host, Crop()) as stub:
        await workers.start("--cpu-slot", "0")
        avatar_id = await submitted(stub, clip)
        (crop,) = await until(lambda: succeeded(avatar_id, "crop"), 120, "the chain made the training set")

    made = open_training_set(fetched(runtime, output(crop, "training_set"), tmp_path))
    upstream = {stage: runs_of(avatar_id, stage)[0] for stage in UPSTREAM}
    count = probe(clip).frame_count
    assert count == CLIP_SECONDS * 25 and made.frame_count == count
    assert made["faces"].shape == (count, CROP_SIZE, CROP_SIZE, 3) and made.manifest["preset"] == "standard"
    assert made.manifest["runs"] == {**{stage: run.id for stage, run in upstream.items()}, "crop": crop.id}
    assert made.manifest["video_sha256"] == json.loads(crop.inputs_json)[0]["sha256"]
    assert made.manifest["quality"]["no_face"] == 0 and made.manifest["quality"]["clean"] > 0.9 * count

    # every crop shows the one face, in its middle, and the mesh lies on it in crop pixels
    detector = FaceDetector()
    try:
        for i in range(0, count, 10):
            (face,) = detector.detect(np.asarray(made["faces"][i]))
            assert abs(face.x + face.width / 2 - 0.5) < 0.15 and abs(face.y + face.height / 2 - 0.5) < 0.2, i
            centre = np.asarray(made["landmarks"][i]).mean(axis=0) / CROP_SIZE
            assert face.x < centre[0] < face.x + face.width and face.y < centre[1] < face.y + face.height, i
    finally:
        detector.close()
    assert np.isfinite(made["landmarks"]).all()
    assert made["landmarks"].min() >= 0 and made["landmarks"].max() <= CROP_SIZE

    # the speech mask, the log-mel and the sound are the upstream stages' own
    with np.load(fetched(runtime, output(upstream["vad"], "speech_mask"), tmp_path)) as speech:
        np.testing.assert_array_equal(made["speech"], speech["speech"])
        np.testing.assert_array_equal(made["speech_probability"], speech["probability"])
    assert made["speech"].mean() > 0.5  # he speaks most of the time
    with np.load(fetched(runtime, output(upstream["audio_features"], "audio_features"), tmp_path)) as mel:
        np.testing.assert_array_equal(made["mel"], mel["features"])
    assert made.manifest["mel_rate"] == 100 and abs(len(made["mel"]) - CLIP_SECONDS * 100) <= 1
    samples, rate = made.audio()
    assert rate == 16000 and abs(len(samples) / rate - CLIP_SECONDS) < 0.02


async def test_a_crop_killed_after_its_checkpoint_resumes_to_the_same_training_set(host, runtime, workers, clip, tmp_path, monkeypatch):
    runtime.flow = AFTER_INTAKE
    monkeypatch.setattr(crop_server, "CHECKPOINT_EVERY_S", 0.0)  # a checkpoint after every chunk
    crop = StallingCrop()
    async with preprocessing(host, crop) as stub:
        doomed = await workers.start("--cpu-slot", "0")
        avatar_id = await submitted(stub, clip)
        (run,) = await until(lambda: runs_of(avatar_id, "crop"), 120, "crop was started")
        await until(lambda: crop.held.is_set() and any(json.loads(n.payload_json)["kind"] == "checkpoint" for n in notes(run.id, "stage_artifact")), 60, "crop stored its first checkpoint")
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        await workers.start("--cpu-slot", "1")
        (resumed,) = await until(lambda: succeeded(avatar_id, "crop"), 60, "the killed crop resumed and finished")
        assert resumed.attempt == 2 and json.loads(resumed.summary_json)["resumed_at_frame"] == crop_server.CHUNK_FRAMES

        # the same inputs again, uninterrupted
        reply = await stub.SubmitStage(
            host_pb.SubmitStageRequest(avatar_id=avatar_id, stage="crop", inputs=refs_from_json(resumed.inputs_json))
        )
        runs = await until(lambda: succeeded(avatar_id, "crop", count=2), 60, "the uninterrupted crop finished")
    (again,) = [r for r in runs if r.id == reply.run.run_id]
    assert again.attempt == 1 and json.loads(again.summary_json)["resumed_at_frame"] == 0

    first = open_training_set(fetched(runtime, output(resumed, "training_set"), tmp_path))
    second = open_training_set(fetched(runtime, output(again, "training_set"), tmp_path))
    assert same(first, second)


def same(first: TrainingSet, second: TrainingSet) -> bool:
    for name in first.arrays:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert set(first.arrays) == set(second.arrays)
    assert {**first.manifest, "runs": None} == {**second.manifest, "runs": None}
    assert first.audio()[0].tobytes() == second.audio()[0].tobytes()
    return True
