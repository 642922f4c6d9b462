"""The inference service as it is deployed: a real process (python -m plugins.inference.server)
serving a bundle of a tiny model trained on 20 s of a real person (tests/fixtures/trained_model.py),
spoken to over loopback gRPC and HTTP. A recording in wav, mp3 or ogg/opus becomes an MP4 as long
as the sound and carrying it; the streaming render gives every frame in order with its sound, the
first one alone and early; garbage and empty text are refused with words a person can act on and
the service keeps serving; the metrics count what was rendered; SIGTERM frees the ports."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from fractions import Fraction
from pathlib import Path

import av
import cv2
import grpc
import numpy as np
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc

from plugins.media.audio import read_audio
from tests.fixtures import trained_model
from tests.fixtures.services import require_samples
from twinforge.inference.v1 import inference_service_pb2 as pb
from twinforge.inference.v1 import inference_service_pb2_grpc as inference_grpc

pytestmark = pytest.mark.samples

ROOT = Path(__file__).resolve().parents[2]
VOICE = "drive_speech_8s_c.wav"
ITERATIONS = 2
START_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A deployable bundle of a tiny trained model (syncnet, audio2lip, generator)."""
    samples = require_samples()
    torch.set_num_threads(2)
    flow = trained_model.prepared(samples, tmp_path_factory.mktemp("inference"))
    return trained_model.bundled(flow, ITERATIONS, "anna", {"submission_version": 1, "round": 2, "measures": {"sync_confidence": 0.3}})


class Service:
    """The server process and where it listens."""

    def __init__(self, bundle: Path, folder: Path) -> None:
        ready = folder / "ready.json"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "plugins.inference.server", "--bundle", str(bundle), "--grpc-port", "0", "--http-port", "0",
             "--host", "127.0.0.1", "--ready-file", str(ready)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited with {self.process.returncode}: {self.process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"the service wrote no {ready} within {START_TIMEOUT_S} s")
            time.sleep(0.1)
        where = json.loads(ready.read_text())
        assert where["pid"] == self.process.pid
        self.grpc, self.http = where["grpc"], f"http://{where['http']}"
        self.channel = grpc.insecure_channel(self.grpc)
        self.stub = inference_grpc.InferenceServiceStub(self.channel)

    def health(self) -> int:
        return health_pb2_grpc.HealthStub(self.channel).Check(health_pb2.HealthCheckRequest(service="twinforge.inference.v1.InferenceService"), timeout=10).status

    def stop(self) -> int:
        self.channel.close()
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def service(bundle, tmp_path_factory):
    running = Service(bundle, tmp_path_factory.mktemp("service"))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def encoded(wav: Path, codec: str, container: str, rate: int, path: Path, seconds: float | None = None) -> Path:
    """The recording re-encoded with PyAV (as a phone would send it), repeated to `seconds` if given."""
    sound = read_audio(wav, rate)
    if seconds is not None:
        sound = np.tile(sound, -(-int(seconds * rate) // len(sound)))[: int(seconds * rate)]
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate = 32_000
        frame = av.AudioFrame.from_ndarray(sound[None].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def rendered(stub, request: pb.RenderRequest) -> tuple[bytes, pb.RenderSummary, list[pb.Progress], int]:
    """The MP4, its summary, the progress events and the largest chunk."""
    chunks, progress, summary = [], [], None
    for reply in stub.Render(request, timeout=120):
        kind = reply.WhichOneof("event")
        assert summary is None, "nothing comes after the summary"
        if kind == "progress":
            assert not chunks, "progress comes before the file"
            progress.append(reply.progress)
        elif kind == "chunk":
            chunks.append(reply.chunk)
        else:
            summary = reply.summary
    assert summary is not None
    return b"".join(chunks), summary, progress, max(map(len, chunks))


def duration_and_sound(data: bytes) -> tuple[float, int, bool]:
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        return frames / float(video.average_rate), frames, bool(container.streams.audio)


def audio_seconds(path: Path) -> float:
    return len(read_audio(path)) / 16000


def test_the_service_is_healthy_and_describes_its_avatar(service):
    assert service.health() == health_pb2.HealthCheckResponse.SERVING
    described = service.stub.Describe(pb.DescribeRequest(), timeout=10)
    assert described.avatar_id == "anna" and described.fps == 25 and (described.width, described.height) == (256, 256)
    assert (described.submission_version, described.round) == (1, 2) and json.loads(described.measures_json) == {"sync_confidence": 0.3}
    assert described.max_audio_seconds == 300 and described.max_request_bytes == 4 * 1024 * 1024
    assert described.versions["bundle_format"] == "1"


def test_a_recording_becomes_an_mp4_as_long_as_its_sound(service):
    wav = require_samples() / VOICE
    data, summary, progress, largest = rendered(service.stub, pb.RenderRequest(audio=wav.read_bytes()))
    seconds, frames, has_sound = duration_and_sound(data)
    assert has_sound and frames == summary.frames and len(data) == summary.size_bytes
    assert abs(seconds - audio_seconds(wav)) <= 1 / 25
    assert progress and progress[-1].fraction == 1.0 and largest <= 1 << 20
    assert summary.render_seconds > 0 and summary.seconds == pytest.approx(frames / 25)


@pytest.mark.parametrize(("codec", "container", "rate"), [("libmp3lame", "mp3", 44100), ("libopus", "ogg", 48000)])
def test_mp3_and_ogg_opus_recordings_render(service, tmp_path, codec, container, rate):
    recording = encoded(require_samples() / "drive_speech_5s_a.wav", codec, container, rate, tmp_path / f"voice.{container}")
    data, summary, _, _ = rendered(service.stub, pb.RenderRequest(audio=recording.read_bytes()))
    seconds, _, has_sound = duration_and_sound(data)
    assert has_sound and abs(seconds - audio_seconds(recording)) <= 1 / 25


def test_streamed_frames_come_in_order_with_their_sound_the_first_alone_and_early(service):
    wav = require_samples() / VOICE
    started = time.perf_counter()
    first_at, indices, sound, chunks = None, [], [], []
    for chunk in service.stub.StreamFrames(pb.StreamFramesRequest(audio=wav.read_bytes(), jpeg_quality=80), timeout=120):
        first_at = first_at or time.perf_counter() - started
        chunks.append(chunk)
        indices.extend(frame.index for frame in chunk.frames)
        sound.append(chunk.pcm16)
    expected = int(round(audio_seconds(wav) * 25))
    assert indices == list(range(expected)) and chunks[0].total_frames == expected
    assert len(chunks[0].frames) == 1 and all(len(c.frames) <= 5 for c in chunks)
    assert [f.pts_seconds for c in chunks for f in c.frames] == pytest.approx([i / 25 for i in range(expected)])
    picture = cv2.imdecode(np.frombuffer(chunks[3].frames[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (256, 256, 3)
    samples = sum(len(part) for part in sound) // 2
    assert samples == pytest.approx(audio_seconds(wav) * chunks[0].sample_rate, abs=2)
    assert chunks[1].audio_start_seconds == pytest.approx(len(chunks[0].pcm16) / 2 / chunks[0].sample_rate)
    # The first frame is sent while the rest are still being made.
    assert chunks[0].elapsed_seconds < chunks[len(chunks) // 2].elapsed_seconds < chunks[-1].elapsed_seconds and first_at < 10
    print(f"first frame after {first_at:.2f} s (the service measured {chunks[0].elapsed_seconds:.2f} s), "
          f"{expected} frames in {chunks[-1].elapsed_seconds:.2f} s")


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_http_health_metrics_and_render(service):
    with urllib.request.urlopen(f"{service.http}/healthz", timeout=10) as reply:
        assert reply.status == 200 and json.loads(reply.read())["status"] == "serving"
    before = urllib.request.urlopen(f"{service.http}/metrics", timeout=10).read().decode()
    wav = require_samples() / "drive_speech_5s_a.wav"
    request = urllib.request.Request(f"{service.http}/render", data=wav.read_bytes(), headers={"Content-Type": "audio/wav"})
    with urllib.request.urlopen(request, timeout=120) as reply:
        assert reply.headers["Content-Type"] == "video/mp4"
        seconds, frames, has_sound = duration_and_sound(reply.read())
    assert has_sound and abs(seconds - audio_seconds(wav)) <= 1 / 25
    after = urllib.request.urlopen(f"{service.http}/metrics", timeout=10).read().decode()
    assert metric(after, 'twinforge_inference_renders_total{kind="http",outcome="ok"}') == metric(before, 'twinforge_inference_renders_total{kind="http",outcome="ok"}') + 1
    assert metric(after, 'twinforge_inference_frames_rendered_total{kind="http"}') == metric(before, 'twinforge_inference_frames_rendered_total{kind="http"}') + frames
    assert metric(after, "twinforge_inference_render_seconds_count") > metric(before, "twinforge_inference_render_seconds_count")
    assert metric(after, "twinforge_inference_renders_in_flight") == 0
    assert "twinforge_inference_first_frame_seconds_bucket" in after


def test_garbage_empty_text_and_too_long_speech_are_refused_in_words_and_the_service_keeps_serving(service, tmp_path):
    with pytest.raises(grpc.RpcError) as caught:
        rendered(service.stub, pb.RenderRequest(audio=b"this is not a recording"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot be decoded" in caught.value.details() and "send a wav, mp3, ogg/opus" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        list(service.stub.StreamFrames(pb.StreamFramesRequest(text="   "), timeout=30))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "empty" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        rendered(service.stub, pb.RenderRequest(audio=(require_samples() / VOICE).read_bytes(), background="green"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "#RRGGBB" in caught.value.details()
    too_long = encoded(require_samples() / "drive_speech_5s_a.wav", "libopus", "ogg", 48000, tmp_path / "long.ogg", seconds=301)
    with pytest.raises(grpc.RpcError) as caught:
        list(service.stub.StreamFrames(pb.StreamFramesRequest(audio=too_long.read_bytes()), timeout=30))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 300 s" in caught.value.details()
    request = urllib.request.Request(f"{service.http}/render", data=b"\x00" * 1000, headers={"Content-Type": "audio/ogg"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400 and json.loads(refused.value.read())["code"] == "audio_unreadable"
    assert service.health() == health_pb2.HealthCheckResponse.SERVING
    assert service.stub.Describe(pb.DescribeRequest(), timeout=10).avatar_id == "anna"


def test_text_is_spoken_and_rendered(service):
    data, summary, _, _ = rendered(service.stub, pb.RenderRequest(text="Hello, I am glad to meet you."))
    seconds, frames, has_sound = duration_and_sound(data)
    assert has_sound and frames == summary.frames and seconds > 0.5


def free(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        try:
            probe.bind((host, int(port)))
        except OSError:
            return False
    return True


def test_sigterm_stops_the_service_cleanly_and_frees_its_ports(bundle, tmp_path):
    running = Service(bundle, tmp_path)
    assert running.health() == health_pb2.HealthCheckResponse.SERVING
    http = running.http.removeprefix("http://")
    assert not free(running.grpc) and not free(http)
    assert running.stop() == 0
    assert free(running.grpc) and free(http)
