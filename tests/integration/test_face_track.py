"""The face_track stage on real people talking (../shared/samples) and on clips made from them: a
stretch of the congress sample while he speaks, one of its frames held still, a stretch whose
middle shows the empty studio wall instead of him, and the wall alone. Each clip is cut once per
session (PyAV, H.264); the plugin runs on a real RunContext with a local blob store, and once
through the SDK's gRPC server behind the host and a worker's job function."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from host.storage.local import LocalBlobStore
from host.channels import host_channel_aio
from host.settings import get_settings
from plugins.face_track import server as face_track
from plugins.face_track.server import NO_FACE, OUTPUT_KIND, OUTPUT_NAME, FaceTrack
from plugins.media.audio import SAMPLE_RATE, read_audio
from plugins.media.frames import read_frames
from plugins.sdk import context as sdk_context
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.errors import StageFailed
from plugins.video_analysis.detectors import FaceDetector
from scheduler import jobs
from tests.fixtures.media import write_clip
from tests.fixtures.services import require_samples, start_plugin
from tests.integration.test_host_flow import upload, wait_registered
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

pytestmark = pytest.mark.samples

CONGRESS = "congress_60s_256.mp4"
FPS = 25
SPEECH = (500, 1000)  # frames 20 s to 40 s of the congress sample: he speaks throughout
BLANKED = (100, 175)  # the frames of the 10 s blanked clip that show the wall instead of him
UPPER_LIP, LOWER_LIP = 13, 14  # inner lip midpoints of the 468-point mesh
LEFT_EYE, RIGHT_EYE = 33, 263  # outer eye corners
PORTRAIT_TOP, PORTRAIT_HEIGHT = 120, 416  # the 256 px frame placed 120 px down a 416 px tall canvas
MAX_LAG = 3  # frames between mouth and sound that still count as together
SHIFTS = range(2 * FPS, SPEECH[1] - SPEECH[0] - 2 * FPS, 10)  # the sound moved 2 s or more: unrelated to the mouth


def wall(rgb: np.ndarray) -> np.ndarray:
    """The empty studio wall left of the speaker, enlarged to the whole frame."""
    return cv2.resize(rgb[:, :56], (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_CUBIC)


def portrait(rgb: np.ndarray) -> np.ndarray:
    """The frame on a taller canvas, the face off its middle: any mix-up of x and y scales shows."""
    return cv2.copyMakeBorder(rgb, PORTRAIT_TOP, PORTRAIT_HEIGHT - PORTRAIT_TOP - rgb.shape[0], 0, 0, cv2.BORDER_REPLICATE)


def cut(src: Path, dst: Path, first: int, count: int, picture=None) -> Path:
    """Frames first..first+count-1 of `src` re-encoded as a 25 fps H.264 clip without sound;
    `picture(number, rgb)` may replace each frame."""
    frames = read_frames(src, first, first + count)
    return write_clip(dst, (picture(number - first, rgb) if picture else rgb for number, rgb in frames))


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    samples = require_samples()
    folder = tmp_path_factory.mktemp("face-track-clips")
    src = samples / CONGRESS
    with contextlib.closing(read_frames(src, SPEECH[0], SPEECH[0] + 1)) as frames:
        _, still = next(frames)
    return {
        "speech": cut(src, folder / "speech.mp4", SPEECH[0], SPEECH[1] - SPEECH[0]),
        "still": cut(src, folder / "still.mp4", SPEECH[0], 5 * FPS, picture=lambda i, rgb: still),
        "blanked": cut(src, folder / "blanked.mp4", 0, 10 * FPS, picture=lambda i, rgb: wall(rgb) if BLANKED[0] <= i < BLANKED[1] else rgb),
        "portrait": cut(src, folder / "portrait.mp4", SPEECH[0], 2 * FPS, picture=lambda i, rgb: portrait(rgb)),
        "wall": cut(src, folder / "wall.mp4", 0, 3 * FPS, picture=lambda i, rgb: wall(rgb)),
        "speaker_a": samples / "speaker_a_8s_512.mp4",
    }


def run_stage(video: Path, folder: Path, resume: Path | None = None, emit=None, parameters: dict | None = None) -> tuple[RunContext, list]:
    """Runs the plugin on a real context whose blobs live in `folder`; returns it and its events."""
    events: list = []
    workdir = folder / f"work-{len(list(folder.glob('work-*')))}"
    workdir.mkdir(parents=True)
    ref = plugin_pb.ArtifactRef(key=f"uploads/{video.name}", kind="video", sha256=video.name.ljust(64, "0"))
    ctx = RunContext(
        avatar_id="av", stage="face_track", run_id="run", attempt=1, parameters=parameters or {}, workdir=workdir,
        inputs=[LocalInput(ref=ref, path=video)], resume_checkpoint=resume,
        blobs=LocalBlobStore(folder / "blobs"), emit=emit or events.append,
    )
    FaceTrack().run(ctx)
    return ctx, events


def track_of(ctx: RunContext, folder: Path) -> dict[str, np.ndarray]:
    (ref,) = [o for o in ctx.outputs if o.name == OUTPUT_NAME]
    local = folder / f"track-{len(list(folder.glob('track-*')))}.npz"
    ctx.blobs.get_file(ref.key, local, ref.sha256)
    with np.load(local, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


@pytest.fixture(scope="session")
def speech_run(clips, tmp_path_factory) -> tuple[RunContext, list, dict[str, np.ndarray]]:
    folder = tmp_path_factory.mktemp("face-track-speech")
    ctx, events = run_stage(clips["speech"], folder)
    return ctx, events, track_of(ctx, folder)


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap over the distance between the eyes: the same for a face near or far."""
    lips = np.linalg.norm(landmarks[:, UPPER_LIP, :2] - landmarks[:, LOWER_LIP, :2], axis=1)
    eyes = np.linalg.norm(landmarks[:, LEFT_EYE, :2] - landmarks[:, RIGHT_EYE, :2], axis=1)
    return lips / eyes


def best_lagged_correlation(mouth: np.ndarray, sound: np.ndarray) -> float:
    """The highest correlation of mouth and sound with the sound up to MAX_LAG frames later or earlier."""
    n = len(mouth)
    return max(
        float(np.corrcoef(mouth[: n - lag] if lag >= 0 else mouth[-lag:], sound[lag:] if lag >= 0 else sound[: n + lag])[0, 1])
        for lag in range(-MAX_LAG, MAX_LAG + 1)
    )


def centres(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inner = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return inner / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inner)


def contains(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    return (outer[:, 0] <= inner[:, 0]) & (outer[:, 1] <= inner[:, 1]) & (outer[:, 2] >= inner[:, 2]) & (outer[:, 3] >= inner[:, 3])


# A clean video ------------------------------------------------------------------------------------


def test_output_follows_the_spec(speech_run):
    ctx, events, track = speech_run
    n = SPEECH[1] - SPEECH[0]
    assert set(track) == {"found", "landmarks", "box", "crop_box", "redetected", "fps", "frame_count"}
    assert (track["found"].dtype, track["found"].shape) == (np.bool_, (n,))
    assert (track["landmarks"].dtype, track["landmarks"].shape) == (np.float32, (n, 468, 3))
    assert (track["box"].dtype, track["box"].shape) == (np.float32, (n, 4))
    assert (track["crop_box"].dtype, track["crop_box"].shape) == (np.float32, (n, 4))
    assert (track["redetected"].dtype, track["redetected"].shape) == (np.bool_, (n,))
    assert float(track["fps"]) == FPS and int(track["frame_count"]) == n
    (ref,) = ctx.outputs
    assert ref.kind == OUTPUT_KIND
    metadata = json.loads(ref.metadata_json)
    assert metadata == {"fps": FPS, "frame_count": n, "width": 256, "height": 256, "found_share": metadata["found_share"]}
    assert metadata["found_share"] >= 0.99 and track["found"].mean() == pytest.approx(metadata["found_share"], abs=1e-4)
    assert track["redetected"][0] and track["redetected"].sum() <= 3  # detected at each 10 s chunk's start, tracked between
    crop = track["crop_box"]
    assert np.isfinite(crop).all() and np.allclose(crop[:, 2] - crop[:, 0], crop[:, 3] - crop[:, 1])


def test_landmarks_are_in_frame_pixels_where_the_face_detector_sees_the_face(clips, tmp_path):
    ctx, _ = run_stage(clips["portrait"], tmp_path)
    track = track_of(ctx, tmp_path)
    assert json.loads(ctx.outputs[0].metadata_json)["height"] == PORTRAIT_HEIGHT
    detector = FaceDetector()
    try:
        for number, rgb in read_frames(clips["portrait"], 0, None):
            if number % 10 == 0:
                (face,) = detector.detect(rgb)
                height, width = rgb.shape[:2]
                detected = np.array([face.x * width, face.y * height, (face.x + face.width) * width, (face.y + face.height) * height])
                assert iou(track["box"][number], detected) > 0.6, (track["box"][number], detected)
    finally:
        detector.close()
    # the crop box is wider than the frame: it covers the frame's width, and fits inside its height
    crop = track["crop_box"]
    assert (crop[:, 0] <= 0).all() and (crop[:, 2] >= 256).all()
    assert (crop[:, 1] >= 0).all() and (crop[:, 3] <= PORTRAIT_HEIGHT).all()
    assert contains(crop, track["box"]).all()


def test_face_stays_inside_a_steady_crop_box(speech_run):
    _, _, track = speech_run
    found = track["found"]
    box, crop = track["box"][found], track["crop_box"][found]
    assert contains(crop, box).mean() >= 0.99
    side = crop[1:, 2] - crop[1:, 0]
    moved = np.linalg.norm(np.diff(centres(crop), axis=0), axis=1) / side
    raw = np.linalg.norm(np.diff(centres(box), axis=0), axis=1) / side
    assert np.median(moved) < 0.01
    assert np.median(moved) < 0.5 * np.median(raw)  # steadier than the landmarks themselves


def test_progress_is_reported_with_an_eta(speech_run):
    _, events, _ = speech_run
    progress = [e.progress for e in events if e.HasField("progress")]
    tracking = [p for p in progress if p.message.startswith(face_track.MESSAGE)]
    # the context sends at most about one a second, and this clip is tracked in one or two seconds
    assert tracking and all(p.eta_seconds >= 0 for p in tracking)
    assert [p.fraction for p in progress] == sorted(p.fraction for p in progress) and progress[-1].fraction == 1.0


def test_mouth_moves_with_the_voice(speech_run, clips, tmp_path):
    _, _, track = speech_run
    mouth = mouth_opening(track["landmarks"])
    ctx, _ = run_stage(clips["still"], tmp_path)
    still = mouth_opening(track_of(ctx, tmp_path)["landmarks"])
    assert np.isfinite(mouth).all() and np.isfinite(still).all()
    assert mouth.std() > 5 * still.std(), (mouth.std(), still.std())

    hop = SAMPLE_RATE // FPS
    sound = read_audio(require_samples() / CONGRESS)[SPEECH[0] * hop : SPEECH[1] * hop]
    envelope = np.sqrt(np.mean(sound.reshape(-1, hop) ** 2, axis=1))
    together = best_lagged_correlation(mouth, envelope)
    apart = [best_lagged_correlation(mouth, np.roll(envelope, shift)) for shift in SHIFTS]
    assert together > 0.15 and together > np.percentile(apart, 95), (together, np.percentile(apart, 95))


def test_512_px_sample_is_tracked_in_full_frame_pixels(clips, tmp_path):
    ctx, _ = run_stage(clips["speaker_a"], tmp_path)
    track = track_of(ctx, tmp_path)
    assert track["found"].mean() >= 0.99
    width = track["box"][:, 2] - track["box"][:, 0]
    assert 200 < np.median(width) < 320  # her face fills about half of the 512 px frame
    assert contains(track["crop_box"], track["box"]).mean() >= 0.99


# Frames without a face ------------------------------------------------------------------------------


def test_frames_without_the_face_are_marked_and_it_is_found_again(clips, tmp_path):
    ctx, _ = run_stage(clips["blanked"], tmp_path)
    track = track_of(ctx, tmp_path)
    gone = slice(*BLANKED)
    found, redetected = track["found"], track["redetected"]
    assert not found[gone].any() and np.isnan(track["landmarks"][gone]).all() and np.isnan(track["box"][gone]).all()
    assert found[: BLANKED[0]].all() and found[BLANKED[1] + 2 :].all()
    back = BLANKED[1] + int(np.argmax(found[BLANKED[1] :]))
    assert back <= BLANKED[1] + 1 and redetected[back]
    assert not redetected[gone].any() and not redetected[back + 1 : back + 25].any()
    # the crop box is held across the gap, between where the face left and where it came back
    crop = track["crop_box"]
    assert np.isfinite(crop).all()
    low, high = np.minimum(crop[BLANKED[0] - 1], crop[back]), np.maximum(crop[BLANKED[0] - 1], crop[back])
    assert ((crop[gone] >= low - 3) & (crop[gone] <= high + 3)).all()
    assert json.loads(ctx.outputs[0].metadata_json)["found_share"] == pytest.approx(found.mean(), abs=1e-4)


def test_video_without_a_face_fails_with_advice(clips, tmp_path):
    with pytest.raises(StageFailed) as failure:
        run_stage(clips["wall"], tmp_path)
    assert failure.value.code == NO_FACE
    assert "0% of the frames" in failure.value.message and "facing the camera" in failure.value.advice


# Crash and resume -------------------------------------------------------------------------------------


class Crash(Exception):
    pass


def test_a_run_resumed_after_a_crash_equals_an_uninterrupted_one(clips, tmp_path, monkeypatch):
    monkeypatch.setattr(face_track, "CHUNK_S", 2.0)  # five chunks of 50 frames
    monkeypatch.setattr(face_track, "CHECKPOINT_EVERY_S", 0.0)  # a checkpoint after every chunk
    monkeypatch.setattr(sdk_context, "PROGRESS_EVERY_S", 0.0)  # every report is sent
    events: list = []

    def crash_after_the_first_checkpoint(event) -> None:
        if event.HasField("progress") and any(e.HasField("artifact") and e.artifact.artifact.kind == "checkpoint" for e in events):
            raise Crash
        events.append(event)

    with pytest.raises(Crash):
        run_stage(clips["blanked"], tmp_path / "crashed", emit=crash_after_the_first_checkpoint)
    (checkpoint,) = [e.artifact.artifact for e in events if e.HasField("artifact")]
    assert json.loads(checkpoint.metadata_json) == {"done": 50}
    local = tmp_path / "checkpoint.npz"
    LocalBlobStore(tmp_path / "crashed" / "blobs").get_file(checkpoint.key, local, checkpoint.sha256)

    resumed_ctx, resumed_events = run_stage(clips["blanked"], tmp_path / "resumed", resume=local)
    assert any("resuming at item 50" in e.log.message for e in resumed_events if e.HasField("log"))
    whole_ctx, _ = run_stage(clips["blanked"], tmp_path / "whole")
    resumed, whole = track_of(resumed_ctx, tmp_path), track_of(whole_ctx, tmp_path)
    assert set(resumed) == set(whole)
    for name in whole:
        np.testing.assert_array_equal(resumed[name], whole[name], err_msg=name)


# Through the SDK's gRPC server ---------------------------------------------------------------------------


async def test_stage_runs_through_the_host_and_the_plugin_server(host, runtime, clips):
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(FaceTrack(), stack)
        await wait_registered(stub, "face_track")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Ada", owner="cli:ada"))).avatar
        video = await upload(stub, avatar.avatar_id, clips["speaker_a"], chunk=1 << 20)
        request = host_pb.SubmitStageRequest(avatar_id=avatar.avatar_id, stage="face_track", inputs=[video], parameters_json='{"margin": 1.8}')
        run = (await stub.SubmitStage(request)).run
        assert await asyncio.to_thread(jobs.run_stage, run.run_id) == "succeeded"
        runs = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar.avatar_id, stage="face_track"))).runs
        (done,) = [r for r in runs if r.run_id == run.run_id]
        assert done.state == host_pb.STAGE_STATE_SUCCEEDED
        (output,) = done.outputs
        assert (output.name, output.kind) == (OUTPUT_NAME, OUTPUT_KIND)
        metadata = json.loads(output.metadata_json)
        assert (metadata["frame_count"], metadata["width"], metadata["height"]) == (200, 512, 512) and metadata["found_share"] >= 0.99
        assert json.loads(done.summary_json)["found_share"] == metadata["found_share"]
        local = Path(runtime.settings.data_dir) / "face_track.npz"
        runtime.blobs.get_file(output.key, local, output.sha256)
        with np.load(local, allow_pickle=False) as track:
            crop, box = track["crop_box"], track["box"]
            side = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
            assert np.median((crop[:, 2] - crop[:, 0]) / side) == pytest.approx(1.8, abs=0.05)  # the margin asked for
