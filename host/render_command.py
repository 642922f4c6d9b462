"""`twinforge render AVATAR (--audio X.wav | --text T) -o out.mp4`: the avatar speaking, rendered by
its live service when it is deployed on this machine (twinforge deploy), else here from what the
platform made for it (the preview path, before any deployment).

The host is asked, not the database: the command finds, for the avatar's newest video that has a
training set, the newest succeeded run that made each artifact it needs (the training set, the
materials, the cut-out if any, each sub-model's file, the submitted video), downloads them through
the host into a cache keyed by sha256 (a second render downloads nothing), and renders with
plugins.lipsync.render. Whatever is missing is named together with the stage that makes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click
import grpc

from host.cli_client import host_stub, rpc_failed
from host.settings import get_settings
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

# The sub-models the inference graph is built from (plugins/lipsync/graph.py); the refiner is used
# when it has been trained. syncnet is a training loss, not part of rendering.
GRAPH_SUBMODELS = ("audio2lip", "generator")
OPTIONAL_SUBMODELS = ("refiner",)
MATERIAL_STAGES = "material_extraction (or an interactive edit of the materials)"
SUCCEEDED = host_pb.STAGE_STATE_SUCCEEDED


@dataclass(frozen=True)
class Sources:
    """The stored artifacts one render reads, all of one submission version."""

    version: int
    video: plugin_pb.ArtifactRef
    training_set: plugin_pb.ArtifactRef
    materials: plugin_pb.ArtifactRef
    cutout: plugin_pb.ArtifactRef | None
    models: dict[str, plugin_pb.ArtifactRef]


def find_sources(avatar_id: str, runs: Iterable[host_pb.StageRun]) -> Sources:
    """The newest artifact of each kind among the succeeded runs of the newest submission that
    has a training set."""
    done = [run for run in runs if run.state == SUCCEEDED]
    versions = [run.submission_version for run in done if any(ref.kind == "training_set" for ref in run.outputs)]
    if not versions:
        raise click.ClickException(
            f"avatar {avatar_id} has no training set yet: the crop stage must succeed first "
            f"(follow it with `twinforge watch {avatar_id}`)"
        )
    version = max(versions)
    newest = sorted((run for run in done if run.submission_version == version), key=lambda run: run.updated_at.ToNanoseconds(), reverse=True)

    def latest(kind: str) -> tuple[plugin_pb.ArtifactRef, host_pb.StageRun] | None:
        return next(((ref, run) for run in newest for ref in run.outputs if ref.kind == kind), None)

    training_set, crop_run = latest("training_set")
    video = next((ref for ref in crop_run.inputs if ref.kind == "video"), None)
    if video is None:
        raise click.ClickException(f"the crop run {crop_run.run_id} names no video among its inputs; run the crop stage again")
    materials = latest("materials")
    if materials is None:
        raise click.ClickException(
            f"avatar {avatar_id} has no materials for video version {version}: run the {MATERIAL_STAGES} stage first"
        )
    cutout = latest("cutout")
    models: dict[str, plugin_pb.ArtifactRef] = {}
    for run in newest:
        for ref in run.outputs:
            if ref.kind == "model":
                name = json.loads(ref.metadata_json or "{}").get("submodel") or run.stage
                models.setdefault(name, ref)
    return Sources(version, video, training_set, materials[0], cutout[0] if cutout else None, models)


def missing_models(models: dict[str, plugin_pb.ArtifactRef]) -> list[str]:
    return [name for name in GRAPH_SUBMODELS if name not in models]


def download(stub: host_grpc.HostServiceStub, ref: plugin_pb.ArtifactRef, cache: Path) -> Path:
    """The artifact's bytes in the cache, under its sha256 (fetched only once), checked as they come."""
    suffix = Path(ref.name).suffix
    path = cache / f"{ref.sha256}{suffix}"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=cache, prefix="download-", delete=False) as spool:
        try:
            for reply in stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=ref.key)):
                digest.update(reply.chunk)
                spool.write(reply.chunk)
        except BaseException:
            os.unlink(spool.name)
            raise
    if ref.sha256 and digest.hexdigest() != ref.sha256:
        os.unlink(spool.name)
        raise click.ClickException(f"{ref.key} arrived damaged (its sha256 differs); run the render again")
    os.replace(spool.name, path)
    return path


def parse_colour(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    value = text.lstrip("#")
    try:
        if len(value) != 6:
            raise ValueError(value)
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a colour: write it as #RRGGBB, e.g. #00b140", param_hint="--background") from None


def render_remote(address: str, audio: Path | None, text: str | None, background: str, output: Path) -> dict:
    """Renders on the avatar's live service: the request streamed as one message, the MP4 written
    as its chunks arrive (to a partial file, renamed once whole)."""
    from twinforge.inference.v1 import inference_service_pb2 as inference_pb
    from twinforge.inference.v1 import inference_service_pb2_grpc as inference_grpc

    request = inference_pb.RenderRequest(background=background)
    if audio is not None:
        request.audio = audio.read_bytes()
    else:
        request.text = text
    partial = output.with_name(output.name + ".partial")
    output.parent.mkdir(parents=True, exist_ok=True)
    summary = None
    limit = get_settings().max_message_bytes + 1024 * 1024
    with grpc.insecure_channel(address, options=[("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)]) as channel:
        stub = inference_grpc.InferenceServiceStub(channel)
        try:
            with open(partial, "wb") as out:
                for reply in stub.Render(request, timeout=900):
                    if reply.HasField("progress"):
                        click.echo(f"{reply.progress.fraction * 100:5.1f}% {reply.progress.message}", err=True)
                    elif reply.HasField("chunk"):
                        out.write(reply.chunk)
                    else:
                        summary = reply.summary
        except grpc.RpcError as exc:
            partial.unlink(missing_ok=True)
            raise click.ClickException(f"the avatar's service at {address} refused the render: {exc.details()}") from None
    if summary is None:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"the avatar's service at {address} ended the render without a video; try again")
    partial.replace(output)
    return {"path": str(output), "frames": summary.frames, "seconds": summary.seconds, "fps": summary.fps,
            "frames_per_second": summary.frames / summary.render_seconds if summary.render_seconds else 0.0,
            "floor": False, "endpoint": address}


@click.command("render")
@click.argument("avatar_id")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="What the avatar says: a wav, mp3, ogg or m4a file.")
@click.option("--text", default=None, help="What the avatar says, as text (needs an offline text-to-speech engine).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The MP4 to write.")
@click.option("--floor", is_flag=True, help="Keep the driving clip's own mouth (the floor a model must beat); needs no trained model.")
@click.option("--background", default=None, help="Colour behind the cut-out, #RRGGBB (default: the cut-out's own; none: the recorded background).")
@click.option("--local", "here", is_flag=True, help="Render on this machine even when the avatar is deployed.")
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON.")
def render_command(avatar_id: str, audio: Path | None, text: str | None, output: Path, floor: bool, background: str | None, here: bool, as_json: bool) -> None:
    """Render AVATAR_ID speaking --audio (or --text) into an MP4: on its live service when it is
    deployed (twinforge deploy), else on this machine from what the platform made for it.

    Exit codes: 0 written, 1 something is missing (the message names the stage to run), 3 the
    host is unavailable."""
    if (audio is None) == (text is None):
        raise click.UsageError("give exactly one of --audio and --text")
    colour = parse_colour(background)
    from plugins.lipsync.render import model_lower_faces, render_video
    from plugins.sdk.errors import StageFailed
    from plugins.tts.speech import speak

    cache = get_settings().resolved_data_dir / "cache" / "render"
    channel, stub = host_stub()
    try:
        live = None if here or floor else stub.GetEndpoint(host_pb.GetEndpointRequest(avatar_id=avatar_id), timeout=30)
        if live is not None and live.HasField("endpoint") and live.endpoint.target == "local":
            channel.close()
            summary = render_remote(live.endpoint.grpc_address, audio, text, background or "", output)
            click.echo(json.dumps(summary, indent=2) if as_json else f"{summary['path']}: {summary['frames']} frames, {summary['seconds']:.2f} s, rendered by {summary['endpoint']}")
            return
        sources = find_sources(avatar_id, stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar_id), timeout=30).runs)
        if not floor and missing_models(sources.models):
            names = ", ".join(missing_models(sources.models))
            raise click.ClickException(
                f"avatar {avatar_id} has no trained {names} for video version {sources.version}: run the {names} "
                f"stage{'s' if len(missing_models(sources.models)) > 1 else ''} (training), or pass --floor to render the driving clip unchanged"
            )
        video = download(stub, sources.video, cache)
        training_set = download(stub, sources.training_set, cache)
        materials = json.loads(download(stub, sources.materials, cache).read_text())
        cutout = download(stub, sources.cutout, cache) if sources.cutout is not None else None
        wanted = () if floor else GRAPH_SUBMODELS + tuple(n for n in OPTIONAL_SUBMODELS if n in sources.models)
        model_files = {name: download(stub, sources.models[name], cache) for name in wanted}
    except grpc.RpcError as exc:
        raise rpc_failed(exc) from None
    finally:
        channel.close()

    lower_faces = None
    if not floor:
        try:
            from plugins.lipsync.graph import load_graph
        except ModuleNotFoundError as exc:
            raise click.ClickException(f"this installation has no lip-sync inference graph ({exc}); update Twinforge, or pass --floor") from None
        lower_faces = model_lower_faces(load_graph(model_files), training_set, float(materials.get("fps") or 25.0))

    def progress(fraction: float, message: str, eta: float | None) -> None:
        left = f", {eta:.0f} s left" if eta else ""
        click.echo(f"{fraction * 100:5.1f}% {message}{left}", err=True)

    with tempfile.TemporaryDirectory() as folder:
        try:
            speech = audio if text is None else speak(text, Path(folder), get_settings().tts_engine)
            summary = render_video(video, training_set, materials, speech, lower_faces, output, cutout=cutout, background=colour, progress=progress)
        except StageFailed as exc:
            raise click.ClickException(f"{exc.message}\n  advice: {exc.advice}") from None
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(
            f"{summary['path']}: {summary['frames']} frames, {summary['seconds']:.2f} s at {summary['fps']:g} fps "
            f"({summary['frames_per_second']:.0f} frames/s{', floor' if summary['floor'] else ''})"
        )
