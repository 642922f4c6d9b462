"""The two audio stages, `vad` and `audio_features`, on real speech (../shared/samples) and on
videos made from it: the speech mask against the sound's energy, rows per frame, a crash mid-run
resumed to the same arrays, a video without sound refused with advice, and each plugin through
the host over gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from host.flow import Flow
from host.storage.blobs import blob_key
from host.storage.local import LocalBlobStore
from host.channels import host_channel_aio
from host.settings import get_settings
from plugins.audio_features import log_mel
from plugins.audio_features.server import AudioFeatures
from plugins.audio_features.sound import NO_SOUND
from plugins.media.audio import read_audio, read_wav
from plugins.media.frames import probe
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.vad.mask import close_gaps, drop_bursts, frame_probabilities, hysteresis, speech_mask
from plugins.vad.server import Vad
from scheduler import jobs
from tests.fixtures.media import write_test_video
from tests.fixtures.services import require_samples, start_plugin
from tests.integration.test_host_flow import upload, wait_registered
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

pytestmark = pytest.mark.samples

CONGRESS = "congress_60s_256.mp4"
SPEECH = "drive_speech_8s_c.wav"  # speech from its first moment, 16 kHz
SILENCE_S = 3.0


def talking_video(path: Path, sound: np.ndarray, fps: int = 25, size: int = 64) -> Path:
    """H.264 + AAC (16 kHz mono): a moving gradient as long as the sound, with that sound."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono")
        for i in range(int(sound.size / 16000 * fps)):
            image = np.zeros((size, size, 3), dtype=np.uint8)
            image[..., 0] = (np.arange(size) * 4 + i * 8) % 256
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        frame = av.AudioFrame.from_ndarray(sound.astype(np.float32)[None, :], format="flt", layout="mono")
        frame.sample_rate = 16000
        for packet in [*audio.encode(frame), *audio.encode()]:
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def speech_after_silence(tmp_path_factory) -> Path:
    """3 s of digital silence, then 5 s of real speech."""
    speech = read_audio(require_samples() / SPEECH)[: 5 * 16000]
    sound = np.concatenate([np.zeros(int(SILENCE_S * 16000), np.float32), speech])
    return talking_video(tmp_path_factory.mktemp("audio") / "speech_after_silence.mp4", sound)


@pytest.fixture(scope="session")
def no_sound(tmp_path_factory) -> Path:
    return write_test_video(tmp_path_factory.mktemp("audio") / "no_sound.mp4", seconds=2.0, audio=False)


class Crash(Exception):
    """The worker's process dying mid-run."""


@dataclass
class CrashingContext(RunContext):
    """Dies at the first progress report after the run saved a checkpoint."""

    checkpoints: int = 0

    def save_checkpoint(self, path, metadata=None):
        self.checkpoints += 1
        return super().save_checkpoint(path, metadata)

    def progress(self, fraction, message="", eta_seconds=None):
        if self.checkpoints:
            raise Crash
        super().progress(fraction, message, eta_seconds)


def run_plugin(plugin: Plugin, video: Path, tmp_path: Path, resume: Path | None = None, context=RunContext) -> tuple[RunContext, list]:
    events: list = []
    workdir = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    workdir.mkdir()
    ref = plugin_pb.ArtifactRef(key="uploads/video.mp4", kind="video", name="video.mp4", sha256=hashlib.sha256(video.read_bytes()).hexdigest())
    ctx = context(
        avatar_id="av", stage=plugin.stages[0], run_id=f"run-{workdir.name}", attempt=1, parameters={}, workdir=workdir,
        inputs=[LocalInput(ref=ref, path=video)], resume_checkpoint=resume, blobs=LocalBlobStore(tmp_path / "blobs"), emit=events.append,
    )
    plugin.run(ctx)
    return ctx, events


def output(ctx: RunContext, name: str) -> tuple[plugin_pb.ArtifactRef, bytes]:
    (ref,) = [o for o in ctx.outputs if o.name == name]
    path = ctx.workdir / f"fetched-{name}"
    ctx.blobs.get_file(ref.key, path, ref.sha256)
    return ref, path.read_bytes()


def arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as saved:
        return {name: saved[name] for name in saved.files}


def frame_energy_db(video: Path) -> np.ndarray:
    """The sound's RMS level over each frame's time, in dB."""
    info = probe(video)
    sound = read_audio(video)
    per = int(16000 / info.fps)
    level = [np.sqrt(np.mean(sound[int(i * 16000 / info.fps) :][:per] ** 2) + 1e-12) for i in range(info.frame_count)]
    return 20 * np.log10(level)


# The speech mask ------------------------------------------------------------------------------------


def test_speech_frames_are_far_louder_than_the_rest_on_a_real_speaker(tmp_path):
    video = require_samples() / CONGRESS
    ctx, _ = run_plugin(Vad(), video, tmp_path)
    ref, data = output(ctx, "speech.npz")
    saved = arrays(data)
    info = probe(video)
    assert ref.kind == "speech_mask"
    assert saved["probability"].dtype == np.float32 and saved["speech"].dtype == bool
    assert saved["probability"].shape == saved["speech"].shape == (info.frame_count,)
    assert int(saved["frame_count"]) == info.frame_count and float(saved["fps"]) == info.fps
    speech = saved["speech"]
    assert 0.6 < speech.mean() < 0.97, "a man giving a speech, with pauses"
    energy = frame_energy_db(video)
    assert np.median(energy[speech]) > np.median(energy[~speech]) + 20
    assert np.median(saved["probability"][speech]) > 0.9 and np.median(saved["probability"][~speech]) < 0.1
    meta = json.loads(ref.metadata_json)
    assert meta == {"fps": info.fps, "frame_count": info.frame_count, "speech_share": round(float(speech.mean()), 4)}


def test_no_speech_is_found_in_the_silence_before_the_speech(tmp_path, speech_after_silence):
    ctx, _ = run_plugin(Vad(), speech_after_silence, tmp_path)
    saved = arrays(output(ctx, "speech.npz")[1])
    fps = float(saved["fps"])
    speech = saved["speech"]
    assert speech.size == probe(speech_after_silence).frame_count == 200
    assert not speech[: int(2.8 * fps)].any()
    assert saved["probability"][: int(2.8 * fps)].max() < 0.1
    first = int(np.flatnonzero(speech)[0])
    assert abs(first / fps - SILENCE_S) < 0.25, f"speech starts at {first / fps:.2f} s, not at {SILENCE_S} s"
    assert speech[int(SILENCE_S * fps) :].mean() > 0.6


def test_hysteresis_gaps_and_bursts():
    probability = np.array([0.1, 0.45, 0.6, 0.4, 0.36, 0.3, 0.49, 0.5, 0.2], np.float32)
    assert hysteresis(probability).tolist() == [False, False, True, True, True, False, False, True, False]
    mask = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0], bool)
    assert close_gaps(mask, 3).tolist() == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0]  # the trailing gap is no pause
    assert drop_bursts(mask, 2).tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    # at 25 fps: a 0.16 s pause closes, a 0.2 s one stays; 0.08 s of speech goes, 0.12 s stays
    pauses = np.repeat([0.9, 0.0, 0.9, 0.0, 0.9], [10, 4, 10, 5, 10]).astype(np.float32)
    assert speech_mask(pauses, 25.0).tolist() == [True] * 24 + [False] * 5 + [True] * 10
    bursts = np.repeat([0.0, 0.9, 0.0, 0.9, 0.0], [5, 2, 5, 3, 5]).astype(np.float32)
    assert speech_mask(bursts, 25.0).tolist() == [False] * 12 + [True] * 3 + [False] * 5


def test_frame_probability_is_the_windows_mean_over_the_frame():
    windows = np.array([0.0, 1.0, 1.0, 0.0], np.float32)  # 32 ms each: speech from 32 to 96 ms
    probability = frame_probabilities(windows, 0.032, 25.0, 4)  # 40 ms frames, the last past the sound
    assert probability == pytest.approx([0.2, 1.0, 0.4, 0.0], abs=1e-6)


# The log-mel features ---------------------------------------------------------------------------------


def test_features_have_a_row_for_every_frame_and_match_the_wav(tmp_path):
    video = require_samples() / CONGRESS
    ctx, _ = run_plugin(AudioFeatures(), video, tmp_path)
    info = probe(video)
    wav_ref, wav = output(ctx, "audio.wav")
    features_ref, data = output(ctx, "log_mel.npz")
    saved = arrays(data)
    assert wav_ref.kind == "audio" and features_ref.kind == "audio_features"
    meta = json.loads(features_ref.metadata_json)
    assert meta == {"extractor": "log_mel", "rate": 100, "fps": info.fps, "frame_count": info.frame_count}
    assert int(saved["rate"]) == 100 and int(saved["frame_count"]) == info.frame_count and float(saved["fps"]) == info.fps

    (tmp_path / "audio.wav").write_bytes(wav)
    samples, rate = read_wav(tmp_path / "audio.wav")
    rows = math.ceil(info.frame_count * 100 / info.fps)
    assert rate == 16000 and samples.size == rows * 160, "the sound runs to the end of the last frame"
    features = saved["features"]
    assert features.dtype == np.float32 and features.shape == (rows, 80)
    assert round((info.frame_count - 1) * 100 / info.fps) < rows
    # the chunked stage gives exactly the one-shot spectrogram of the wav it stored
    assert np.array_equal(features, log_mel.log_mel(samples))
    # and the wav is the video's sound from time 0
    sound = np.clip(read_audio(video), -1, 1)
    assert np.abs(samples[: sound.size] - sound[: samples.size]).max() < 1e-4


def test_silence_then_speech_lands_on_the_rows_of_its_time(tmp_path, speech_after_silence):
    ctx, _ = run_plugin(AudioFeatures(), speech_after_silence, tmp_path)
    features = arrays(output(ctx, "log_mel.npz")[1])["features"]
    assert features.shape == (800, 80)
    floor = features.min()
    assert features.max() - floor == pytest.approx(2.0, abs=1e-5), "8 decades below the loudest, over 4"
    level = features.mean(axis=1) - floor
    assert (level[:300] < 1e-5).all(), "nothing but silence before 3 s"
    # the speech starts at 3 s, plus the 64 ms of AAC priming PyAV's muxer leaves in the track
    assert 300 <= np.flatnonzero(level > 0.25)[0] <= 310
    assert np.median(level[310:]) > 0.5


# Resuming after a crash ----------------------------------------------------------------------------------


@pytest.mark.parametrize("plugin, name, fields", [(Vad, "speech.npz", ("probability", "speech")), (AudioFeatures, "log_mel.npz", ("features",))])
def test_a_run_resumed_after_a_crash_gives_the_arrays_of_an_uninterrupted_one(tmp_path, monkeypatch, plugin, name, fields):
    video = require_samples() / CONGRESS
    monkeypatch.setattr(f"{plugin.__module__}.CHECKPOINT_EVERY_S", 0.0)
    whole, _ = run_plugin(plugin(), video, tmp_path)

    with pytest.raises(Crash):
        run_plugin(plugin(), video, tmp_path, context=CrashingContext)
    blobs, stage = LocalBlobStore(tmp_path / "blobs"), plugin.stages[0]
    assert not blobs.exists(blob_key("av", stage, "run-work-1", name)), "the crashed run got to its end"
    checkpoint = tmp_path / "checkpoint.npz"
    blobs.get_file(blob_key("av", stage, "run-work-1", "checkpoint"), checkpoint)

    resumed, events = run_plugin(plugin(), video, tmp_path, resume=checkpoint)
    logs = [e.log.message for e in events if e.HasField("log")]
    assert any(m.startswith("resuming at item ") and not m.startswith("resuming at item 0 ") for m in logs), logs
    expected, got = arrays(output(whole, name)[1]), arrays(output(resumed, name)[1])
    for field in fields:
        assert np.array_equal(got[field], expected[field]), field
    assert resumed.summary == whole.summary


# No sound -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("plugin", [Vad, AudioFeatures])
def test_a_video_without_sound_is_refused_with_advice(tmp_path, no_sound, plugin):
    with pytest.raises(StageFailed) as failure:
        run_plugin(plugin(), no_sound, tmp_path)
    assert failure.value.code == NO_SOUND and "no sound" in failure.value.message
    assert "record the video again with the microphone on" in failure.value.advice


# Through the host over gRPC ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plugin, names, field, rows",
    [(Vad, ["speech.npz"], "speech", 200), (AudioFeatures, ["audio.wav", "log_mel.npz"], "features", 800)],  # 8 s: frames, 10 ms rows
)
async def test_the_plugin_serves_its_stage_through_the_host(host, runtime, speech_after_silence, no_sound, plugin, names, field, rows):
    stage = plugin.stages[0]
    runtime.flow = Flow(needs={stage: ()})
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(plugin(), stack)
        await wait_registered(stub, stage)
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Vi", owner="cli:vi"))).avatar

        runs = []
        for video in (speech_after_silence, no_sound):
            uploaded = await upload(stub, avatar.avatar_id, video, chunk=1 << 20)
            (run,) = (await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar.avatar_id, video=uploaded))).started
            await asyncio.to_thread(jobs.run_stage, run.run_id)
            listed = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar.avatar_id, stage=stage))).runs
            runs.append(next(r for r in listed if r.run_id == run.run_id))

        good, silent = runs
        assert good.state == host_pb.STAGE_STATE_SUCCEEDED, good.error
        assert sorted(o.name for o in good.outputs) == names
        last = next(o for o in good.outputs if o.name.endswith(".npz"))
        data = b"".join([r.chunk async for r in stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=last.key))])
        assert arrays(data)[field].shape[0] == rows
        assert json.loads(good.summary_json)["frame_count"] == 200

        assert silent.state == host_pb.STAGE_STATE_FAILED
        assert silent.error.code == NO_SOUND and "microphone" in silent.error.advice
