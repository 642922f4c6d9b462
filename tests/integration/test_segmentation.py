"""The `segmentation` plugin on real people (../shared/samples): the matte covers the face that
mediapipe's face detector finds and leaves the far background out; a frame without a person gets
an empty matte; a run that crashed mid-video and resumed from its checkpoint gives exactly the
mattes of an uninterrupted one; and the plugin serves a submission through the host over gRPC.

Clips are cut from the first seconds of the samples once per session, so each run takes a second
or two."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from host.flow import Flow
from host.storage.local import LocalBlobStore
from host.channels import host_channel_aio
from host.settings import get_settings
from plugins.media.frames import probe, read_frames
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.errors import StageFailed
from plugins.segmentation import server
from plugins.segmentation.segmenter import matte_size
from plugins.segmentation.server import MATTE_KIND, MATTE_NAME, Segmentation
from plugins.video_analysis.detectors import FaceDetector
from scheduler import jobs
from tests.fixtures.media import write_clip, write_test_video
from tests.fixtures.services import require_samples, start_plugin
from tests.integration.test_host_flow import upload, wait_registered
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

pytestmark = pytest.mark.samples

CONGRESS = "congress_60s_256.mp4"
SPEAKER = "speaker_a_8s_512.mp4"


def cut(src: Path, dst: Path, frames: int, picture: Callable[[np.ndarray], np.ndarray] | None = None, then: int = 0) -> Path:
    """The first `frames` frames of `src` as H.264 (each mapped by `picture`), followed by `then`
    frames showing only the studio wall left of the speaker, enlarged to the clip's size."""
    with av.open(str(src)) as source:
        images = []
        for frame in source.decode(video=0):
            if len(images) == frames:
                break
            image = frame.to_ndarray(format="rgb24")
            images.append(picture(image) if picture else image)
    height, width = images[0].shape[:2]
    wall = cv2.resize(images[-1][:, : width * 56 // 256], (width, height), interpolation=cv2.INTER_CUBIC)
    return write_clip(dst, images + [wall] * then)


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    samples, folder = require_samples(), tmp_path_factory.mktemp("segmentation-clips")
    return {
        "congress": cut(samples / CONGRESS, folder / "congress.mp4", 150),
        "speaker": cut(samples / SPEAKER, folder / "speaker.mp4", 100),
        "portrait": cut(samples / CONGRESS, folder / "portrait.mp4", 50, lambda rgb: cv2.copyMakeBorder(rgb, 64, 64, 0, 0, cv2.BORDER_REPLICATE)),
        "then_wall": cut(samples / CONGRESS, folder / "then_wall.mp4", 50, then=50),
    }


def context(video: Path, folder: Path, events: list, resume: Path | None = None) -> RunContext:
    """The context the SDK server would build, on a local blob store in `folder`."""
    workdir = folder / f"work-{len(list(folder.glob('work-*')))}"
    workdir.mkdir(parents=True)
    ref = plugin_pb.ArtifactRef(key="uploads/video.mp4", kind="video", sha256=hashlib.sha256(video.read_bytes()).hexdigest())
    return RunContext(
        avatar_id="av", stage="segmentation", run_id="run", attempt=1, parameters={}, workdir=workdir,
        inputs=[LocalInput(ref=ref, path=video)], resume_checkpoint=resume, blobs=LocalBlobStore(folder / "blobs"), emit=events.append,
    )


def stored(ctx: RunContext, events: list, kind: str) -> list[plugin_pb.ArtifactRef]:
    return [e.artifact.artifact for e in events if e.HasField("artifact") and e.artifact.artifact.kind == kind]


def segment(video: Path, folder: Path, resume: Path | None = None) -> tuple[RunContext, dict[str, np.ndarray]]:
    """Runs the plugin and loads the matte it stored."""
    events: list = []
    ctx = context(video, folder, events, resume)
    Segmentation().run(ctx)
    (ref,) = stored(ctx, events, MATTE_KIND)
    assert ref.name == MATTE_NAME and ctx.outputs == [ref]
    local = ctx.workdir / "stored.npz"
    ctx.blobs.get_file(ref.key, local, ref.sha256)
    with np.load(local, allow_pickle=False) as data:
        return ctx, {name: data[name] for name in data.files}


@pytest.fixture(scope="module")
def faces() -> FaceDetector:
    return FaceDetector()


def inner_face(face, width: int, height: int) -> tuple[slice, slice]:
    """The middle of a detected face box (eyes, nose, mouth), in pixels of a picture of that size."""
    x0, x1 = face.x + 0.2 * face.width, face.x + 0.8 * face.width
    y0, y1 = face.y + 0.2 * face.height, face.y + 0.8 * face.height
    return slice(round(y0 * height), round(y1 * height)), slice(round(x0 * width), round(x1 * width))


def test_matte_size_keeps_the_aspect_with_the_longer_side_at_most_256():
    assert matte_size(1920, 1080) == (256, 144)
    assert matte_size(720, 1280) == (144, 256)
    assert matte_size(512, 512) == (256, 256)
    assert matte_size(200, 120) == (200, 120)  # never enlarged


@pytest.mark.parametrize("clip", ["congress", "speaker"])
def test_matte_covers_the_face_and_leaves_out_the_far_background(clips, tmp_path, faces, clip):
    ctx, matte = segment(clips[clip], tmp_path)
    info = probe(clips[clip])
    alpha = matte["alpha"]
    assert alpha.dtype == np.uint8 and alpha.shape == (info.frame_count, 256, 256)
    assert (int(matte["frame_count"]), float(matte["fps"])) == (info.frame_count, info.fps)
    assert (int(matte["width"]), int(matte["height"])) == (info.width, info.height)
    assert ctx.summary["frames_with_person"] == info.frame_count

    checked = 0
    for number, rgb in read_frames(clips[clip]):
        if number % 10:
            continue
        (face,) = faces.detect(rgb)
        rows, cols = inner_face(face, 256, 256)
        assert alpha[number][rows, cols].mean() / 255 >= 0.9, f"frame {number}: the face is not in the matte"
        corners = np.concatenate([alpha[number][:32, :32].ravel(), alpha[number][:32, -32:].ravel()])
        assert corners.mean() / 255 <= 0.1, f"frame {number}: the background above the shoulders is in the matte"
        checked += 1
    assert checked == len(range(0, info.frame_count, 10))


def test_portrait_frame_gets_a_portrait_matte(clips, tmp_path, faces):
    _, matte = segment(clips["portrait"], tmp_path)
    assert matte["alpha"].shape == (50, 256, 171)  # 256 x 384 shown: 384 px down to 256, 256 px to 171
    _, rgb = next(read_frames(clips["portrait"]))
    (face,) = faces.detect(rgb)
    rows, cols = inner_face(face, 171, 256)
    assert matte["alpha"][0][rows, cols].mean() / 255 >= 0.9


def test_frames_without_a_person_get_an_empty_matte(clips, tmp_path):
    _, matte = segment(clips["then_wall"], tmp_path)
    alpha = matte["alpha"].astype(np.float32) / 255
    assert len(alpha) == 100
    person = alpha[:50].mean(axis=(1, 2))
    wall = alpha[50:].mean(axis=(1, 2))  # the smoothing keeps the cut at frame 50
    assert person.min() > 0.4, "the speaker is missing from the matte"
    assert wall.max() < 0.02, "the empty wall got a matte"


def test_video_without_a_person_fails_with_advice(tmp_path):
    video = write_test_video(tmp_path / "gradient.mp4", seconds=1.0)
    events: list = []
    ctx = context(video, tmp_path, events)
    with pytest.raises(StageFailed) as failed:
        Segmentation().run(ctx)
    assert failed.value.code == "no_person"
    assert "0 of the 25 frames" in failed.value.message and "record yourself" in failed.value.advice
    assert ctx.summary["frames_with_person"] == 0 and (ctx.summary["matte_width"], ctx.summary["matte_height"]) == (64, 64)
    assert not stored(ctx, events, MATTE_KIND)


class Crash(Exception):
    """The worker dies mid-run."""


def test_resumed_run_gives_exactly_the_mattes_of_an_uninterrupted_one(clips, tmp_path, monkeypatch):
    _, whole = segment(clips["congress"], tmp_path / "whole")

    monkeypatch.setattr(server, "CHUNK_FRAMES", 40)
    monkeypatch.setattr(server, "CHECKPOINT_EVERY_S", 0.0)
    events: list = []
    ctx = context(clips["congress"], tmp_path / "crashed", events)
    progress = ctx.progress

    def crashing(*args, **kwargs):
        if stored(ctx, events, "checkpoint"):
            raise Crash
        progress(*args, **kwargs)

    ctx.progress = crashing
    with pytest.raises(Crash):
        Segmentation().run(ctx)
    (checkpoint,) = stored(ctx, events, "checkpoint")
    assert json.loads(checkpoint.metadata_json) == {"done": 40}
    assert not stored(ctx, events, MATTE_KIND)
    local = tmp_path / "checkpoint.npz"
    ctx.blobs.get_file(checkpoint.key, local, checkpoint.sha256)

    resumed_ctx, resumed = segment(clips["congress"], tmp_path / "crashed", resume=local)
    assert resumed_ctx.summary["resumed_at"] == 40
    assert resumed.keys() == whole.keys()
    for name in whole:
        assert np.array_equal(resumed[name], whole[name]), name


async def test_plugin_serves_a_submission_through_the_host(host, runtime, clips):
    runtime.flow = Flow(needs={"segmentation": ()})
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(Segmentation(), stack)
        await wait_registered(stub, "segmentation")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Sam", owner="cli:sam"))).avatar
        video = await upload(stub, avatar.avatar_id, clips["then_wall"], chunk=1 << 20)
        (run,) = (await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar.avatar_id, video=video))).started
        assert run.stage == "segmentation"
        assert await asyncio.to_thread(jobs.run_stage, run.run_id) == "succeeded"

        (done,) = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar.avatar_id, stage="segmentation"))).runs
        (matte,) = done.outputs
        assert (matte.kind, matte.name) == (MATTE_KIND, MATTE_NAME)
        assert json.loads(matte.metadata_json) == {
            "fps": 25.0, "frame_count": 100, "width": 256, "height": 256, "matte_width": 256, "matte_height": 256,
        }
        summary = json.loads(done.summary_json)
        assert summary["frames"] == 100 and 45 <= summary["frames_with_person"] <= 55
        data = b"".join([r.chunk async for r in stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=matte.key))])
        assert len(data) == summary["matte_bytes"] == matte.size
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            assert arrays["alpha"].shape == (100, 256, 256) and int(arrays["frame_count"]) == 100
