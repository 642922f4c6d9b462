"""How long from Deploy to the first video: the `image_packaging` stage (the image built, stored as
an OCI layout and pushed to a real registry), then the `deployment` stage (the image unpacked, the
inference service started from it and its models loaded), then the first render of 8 s of speech
over gRPC, on this machine with the draft model.

    .venv/bin/python -m bench.deploy

The model is the draft networks trained for a few iterations on 20 s of congress_60s_256.mp4
(tests/fixtures/trained_model.py); deploying does not depend on how well it is trained. The image
carries the whole runtime (the twinforge distribution's dependency closure, about 2.6 GB with the
CPU torch), which is built once per environment and then taken from the data storage: the first
deploy pays for it (cold), a redeploy of a new round does not (warm); both are measured. The
baseline is the same first render on a service already running (what a person waits for once the
avatar is live), measured in the same run; the ratio says how much longer the first video takes
right after pressing Deploy. A docker-registry on 127.0.0.1 receives the pushes (scripts/setup
installs it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import click
import grpc

from bench.intake import SAMPLES
from bench.preprocess import run_stage
from host.settings import get_settings
from plugins.deployment.server import Deployment
from plugins.image_packaging.server import ImagePackaging
from plugins.sdk.context import RunContext
from tests.fixtures import trained_model
from tests.fixtures.registry import BINARY, running_registry
from twinforge.inference.v1 import inference_service_pb2 as inference_pb
from twinforge.inference.v1 import inference_service_pb2_grpc as inference_grpc

VOICE = "drive_speech_8s_c.wav"
ITERATIONS = 3


def first_video(address: str) -> float:
    """Seconds until the whole MP4 of 8 s of speech has arrived."""
    started = time.perf_counter()
    with grpc.insecure_channel(address) as channel:
        stub = inference_grpc.InferenceServiceStub(channel)
        for _ in stub.Render(inference_pb.RenderRequest(audio=(SAMPLES / VOICE).read_bytes()), timeout=600):
            pass
    return time.perf_counter() - started


def deploy(flow: dict, folder: Path, image) -> tuple[dict, float]:
    ctx = RunContext(
        avatar_id="bench", stage="deployment", run_id=folder.name, attempt=1, workdir=folder,
        parameters={"action": "deploy", "target": "local"}, inputs=[image], resume_checkpoint=None,
        blobs=flow["blobs"], emit=lambda event: None,
    )
    started = time.perf_counter()
    Deployment().run(ctx)
    return ctx.summary["endpoint"], time.perf_counter() - started


def undeploy(flow: dict, folder: Path, endpoint: dict) -> None:
    ctx = RunContext(
        avatar_id="bench", stage="deployment", run_id=folder.name, attempt=1, workdir=folder,
        parameters={"action": "undeploy", "target": "local", "endpoint": endpoint}, inputs=[], resume_checkpoint=None,
        blobs=flow["blobs"], emit=lambda event: None,
    )
    Deployment().run(ctx)


def one_deploy(flow: dict, inputs: list, folder: Path, label: str) -> dict[str, float]:
    """Packaging, deployment and the first video, each timed; then the same render again on the
    running service (the baseline)."""
    work = folder / label
    work.mkdir()
    packaging_s, outputs = run_stage(ImagePackaging(), inputs, flow["blobs"], work, {"round": 1, "submission_version": 1})
    (image,) = [item for item in outputs if item.ref.kind == "image"]
    (work / "deploy").mkdir()
    endpoint, deployment_s = deploy(flow, work / "deploy", image)
    try:
        first_s = first_video(endpoint["grpc_address"])
        live_s = first_video(endpoint["grpc_address"])
    finally:
        (work / "undeploy").mkdir()
        undeploy(flow, work / "undeploy", endpoint)
    return {"packaging": packaging_s, "deployment": deployment_s, "first_video": first_s, "live_video": live_s}


@click.command()
def main() -> None:
    """Deploy to first video, cold and warm, against a render on a running service."""
    registry_binary = shutil.which(BINARY)
    if registry_binary is None:
        raise click.ClickException(f"{BINARY} is not installed: run scripts/setup (it installs the registry the images are pushed to)")
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp, running_registry(Path(tmp) / "registry", login=False) as server:
        folder = Path(tmp)
        os.environ["TWINFORGE_DATA_DIR"] = str(folder / "data")
        os.environ["TWINFORGE_REGISTRY"] = server.address
        get_settings.cache_clear()
        flow = trained_model.prepared(SAMPLES, folder)
        models = trained_model.trained(flow, ("syncnet", "audio2lip", "generator"), ITERATIONS)
        inputs = [flow["video"], flow["training_set"], flow["materials"], *models.values()]
        rows = {label: one_deploy(flow, inputs, folder, label) for label in ("cold", "warm")}
    load = os.getloadavg()[0]
    click.echo(f"Deploy to first video, draft model, {os.cpu_count()} cores (load {load:.1f}); pushed to docker-registry on 127.0.0.1")
    click.echo(f"{'':6} {'packaging':>10} {'deployment':>11} {'first video':>12} {'deploy→video':>13} {'live render':>12} {'ratio':>6}")
    for label, row in rows.items():
        total = row["packaging"] + row["deployment"] + row["first_video"]
        click.echo(f"{label:6} {row['packaging']:9.1f}s {row['deployment']:10.1f}s {row['first_video']:11.1f}s {total:12.1f}s "
                   f"{row['live_video']:11.1f}s {total / row['live_video']:5.1f}x")


if __name__ == "__main__":
    main()
