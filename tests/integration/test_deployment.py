"""The local deploy target with a real avatar: a draft model trained for a few iterations on 20 s of
the congress sample, packaged by the real image_packaging stage, started by the deployment stage
as a real process from the image's own files, rendering over gRPC on loopback, then undeployed."""

from __future__ import annotations

import socket
from pathlib import Path

import av
import grpc
import pytest

from bench.preprocess import run_stage
from host.render_command import render_remote
from host.settings import get_settings
from plugins.deployment import local
from plugins.deployment.server import Deployment
from plugins.image_packaging.server import ImagePackaging
from plugins.media.frames import probe
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from tests.fixtures import trained_model
from tests.fixtures.services import require_samples
from twinforge.inference.v1 import inference_service_pb2 as inference_pb
from twinforge.inference.v1 import inference_service_pb2_grpc as inference_grpc

pytestmark = pytest.mark.samples

SPEECH = "drive_speech_8s_c.wav"


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The packaged image of a tiny real model, and the blob store and folder the stages share."""
    samples = require_samples()
    folder = tmp_path_factory.mktemp("deploy")
    flow = trained_model.prepared(samples, folder)
    models = trained_model.trained(flow, ("syncnet", "audio2lip", "generator"), iterations=2)
    inputs = [flow["video"], flow["training_set"], flow["materials"], *models.values()]
    parameters = {"runtime_packages": ["click"], "round": 1, "submission_version": 1, "measures": {"sync_confidence": 0.3}}
    _, outputs = run_stage(ImagePackaging(), inputs, flow["blobs"], folder, parameters)
    (packed,) = [item for item in outputs if item.ref.kind == "image"]
    return {"flow": flow, "image": packed, "folder": folder}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINFORGE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def deployed(image: dict, action: str, **parameters) -> dict:
    folder = image["folder"] / f"{action}-{len(list(image['folder'].iterdir()))}"
    folder.mkdir()
    inputs = [image["image"]] if action == "deploy" else []
    stage = Deployment()
    ctx = RunContext(
        avatar_id="avatar-1", stage="deployment", run_id=folder.name, attempt=1, workdir=folder,
        parameters={"action": action, "target": "local", **parameters}, inputs=inputs, resume_checkpoint=None,
        blobs=image["flow"]["blobs"], emit=lambda event: None,
    )
    stage.run(ctx)
    return ctx.summary


def port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def test_a_local_deployment_renders_the_audio_and_undeploy_frees_its_port_and_process(image, data_dir, tmp_path):
    endpoint = deployed(image, "deploy")["endpoint"]
    assert endpoint["target"] == "local" and endpoint["image_digest"].startswith("sha256:")
    assert Path(endpoint["folder"]).is_relative_to(data_dir)  # the service runs from the image's files, not this checkout
    speech = require_samples() / SPEECH
    with grpc.insecure_channel(endpoint["grpc_address"]) as channel:
        stub = inference_grpc.InferenceServiceStub(channel)
        assert stub.Describe(inference_pb.DescribeRequest(), timeout=30).avatar_id == "bench"
        chunks, summary = [], None
        for reply in stub.Render(inference_pb.RenderRequest(audio=speech.read_bytes()), timeout=300):
            if reply.HasField("chunk"):
                chunks.append(reply.chunk)
            elif reply.HasField("summary"):
                summary = reply.summary
    video = tmp_path / "answer.mp4"
    video.write_bytes(b"".join(chunks))
    with av.open(str(video)) as container:
        pictures, sound = container.streams.video[0], container.streams.audio[0]
        seconds = float(pictures.frames / pictures.average_rate)
    with av.open(str(speech)) as container:
        spoken = float(container.duration / av.time_base)
    assert summary is not None and abs(seconds - spoken) <= 1 / 25 + 1e-6
    assert sound.codec_context.name == "aac"
    said = render_remote(endpoint["grpc_address"], None, "Hello, I am live now.", "", tmp_path / "said.mp4")  # twinforge render --text
    assert said["frames"] > 25 and probe(tmp_path / "said.mp4").frame_count == said["frames"]
    pid = endpoint["pid"]
    deployed(image, "undeploy", endpoint=endpoint)
    assert not port_open(endpoint["grpc_address"]) and not port_open(endpoint["http_address"])
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/cmdline").read_bytes() == b""
    assert not Path(endpoint["folder"]).exists() and local.live(Path(endpoint["folder"]).parent) is None


def test_a_damaged_image_fails_the_deployment_with_advice_and_starts_nothing(image, data_dir, tmp_path):
    broken = tmp_path / "image.oci.tar"
    broken.write_bytes(image["image"].path.read_bytes()[:4096])
    damaged = type(image["image"])(image["image"].ref, broken)
    with pytest.raises(StageFailed) as failed:
        deployed({**image, "image": damaged}, "deploy")
    assert failed.value.code == "deploy_failed" and "package the avatar again" in failed.value.advice
    root = data_dir / "deployments" / "avatar-1"
    assert local.live(root) is None and not [path for path in root.iterdir() if path.is_dir()]
