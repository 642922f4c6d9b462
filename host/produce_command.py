"""`twinforge produce VIDEO --name N [--preset draft] [--auto] [--audio WAV]`: the whole flow through
the host, the queue and the plugins, as the bot drives it, from a video file to a deployed avatar
speaking new audio.

Where a person would choose, the flow's own proposals stand (the best-ranked driving clip and cover,
the default cut-out) and, with --auto, a round that passes its thresholds is approved; without it
the command asks. Each step is looked up before it is done (the avatar, the uploaded video and its
submission in the state file `<data_dir>/produce/<hash of the name>.json`, the video by its sha256,
the rounds, the approval and the endpoint through the host), so an interrupted produce run again
goes on where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click
import grpc
from google.protobuf import json_format

from host.cli_client import default_by, host_stub, rpc_failed
from host.deploy_command import follow, show_progress, stage_failed
from host.render_command import render_remote
from host.settings import get_settings
from host.presets import PRESETS_ORDER
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

SENTENCE = "Hello! I am your new digital twin. I can say anything you type or record for me."
CHUNK = 1024 * 1024
DONE_KINDS = ("preview_ready", "evaluation_below_limits")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def upload(stub, avatar_id: str, video: Path):
    def parts():
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind="video", filename=video.name))
        with open(video, "rb") as source:
            for block in iter(lambda: source.read(CHUNK), b""):
                yield host_pb.UploadArtifactRequest(chunk=block)

    return stub.UploadArtifact(parts(), timeout=600).artifact


def evaluated(stub, avatar_id: str) -> dict:
    """Prints every stage's progress until the newest round's evaluation is ready; its payload."""
    for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar_id, after_seq=0)):
        n = reply.notification
        payload = json.loads(n.payload_json or "{}")
        if n.kind == "stage_progress":
            show_progress(n, payload)
        elif n.kind in ("stage_succeeded", "stage_queued"):
            click.echo(f"{n.stage:>20}: {n.kind.removeprefix('stage_')}", err=True)
        elif n.kind == "stage_failed":
            raise stage_failed(n, payload)
        elif n.kind == "flow_blocked":
            raise click.ClickException(f"the flow stopped after {payload.get('after_stage')}: {payload.get('message')}\n  advice: {payload.get('advice')}")
        elif n.kind in DONE_KINDS:
            rounds = stub.ListRounds(host_pb.ListRoundsRequest(avatar_id=avatar_id), timeout=30).rounds
            if rounds and rounds[-1].evaluation_run == n.run_id and not rounds[-1].verdict:
                return {"passed": n.kind == "preview_ready", **payload}
    raise click.ClickException("the host closed the notification stream; run the same command again to go on")


@click.command("produce")
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="The avatar's name; running again with the same name goes on where it stopped.")
@click.option("--preset", type=click.Choice(PRESETS_ORDER), default="draft", show_default=True,
              help="Quality (and time) of every stage; tiny is a smoke test of the platform, its avatar does not lip-sync.")
@click.option("--auto", is_flag=True, help="Approve a round that passes its thresholds without asking.")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="What the avatar says at the end (default: a built-in sentence through text to speech).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="The final video (default: <name>.mp4).")
def produce_command(video: Path, name: str, preset: str, auto: bool, audio: Path | None, output: Path | None) -> None:
    """From VIDEO to a deployed avatar speaking new audio, through the running platform (twinforge up).

    Exit codes: 0 the video is written, 1 a stage failed or the round did not pass (the message
    says why and what to do), 3 the host is unavailable."""
    state_file = get_settings().resolved_data_dir / "produce" / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    channel, stub = host_stub()
    try:
        if not state.get("avatar_id"):
            state = {"name": name, "avatar_id": stub.CreateAvatar(host_pb.CreateAvatarRequest(name=name, owner=default_by()), timeout=30).avatar.avatar_id}
            state_file.parent.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps(state))
        avatar_id = state["avatar_id"]
        click.echo(f"avatar {avatar_id} ({name})", err=True)
        digest = sha256_of(video)
        if state.get("video_sha256") != digest:
            ref = upload(stub, avatar_id, video)
            state.update(video_sha256=digest, video=json_format.MessageToDict(ref), submitted=False)
            state_file.write_text(json.dumps(state))
        if not state.get("submitted"):
            ref = json_format.ParseDict(state["video"], plugin_pb.ArtifactRef())
            stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar_id, video=ref, preset=preset), timeout=30)
            state["submitted"] = True
            state_file.write_text(json.dumps(state))
        live = stub.GetEndpoint(host_pb.GetEndpointRequest(avatar_id=avatar_id), timeout=30)
        if not live.HasField("endpoint"):
            rounds = stub.ListRounds(host_pb.ListRoundsRequest(avatar_id=avatar_id), timeout=30)
            if not rounds.can_deploy:
                verdict = evaluated(stub, avatar_id)
                for line in verdict.get("words", []):
                    click.echo(f"  {line}", err=True)
                if not verdict["passed"]:
                    raise click.ClickException(
                        f"the model did not pass the {verdict.get('preset') or preset} thresholds; reject the round with a reason to retrain "
                        f"(twinforge avatar reject {avatar_id} REASON), then run this command again"
                    )
                if not auto and not click.confirm("approve this round and deploy it?", default=True):
                    raise click.ClickException(f"not approved; reject it with a reason (twinforge avatar reject {avatar_id} REASON) to retrain")
                stub.ApproveAvatar(host_pb.ApproveAvatarRequest(avatar_id=avatar_id, by=default_by()), timeout=30)
            started = stub.Deploy(host_pb.DeployRequest(avatar_id=avatar_id, target="local", by=default_by()), timeout=30)
            follow(stub, avatar_id, started.run.run_id, "deployment")
            live = stub.GetEndpoint(host_pb.GetEndpointRequest(avatar_id=avatar_id), timeout=30)
    except grpc.RpcError as exc:
        raise rpc_failed(exc) from None
    finally:
        channel.close()
    output = output or Path(f"{name}.mp4")
    summary = render_remote(live.endpoint.grpc_address, audio, None if audio else SENTENCE, "", output)
    click.echo(f"{output}: {summary['seconds']:.1f} s of avatar {avatar_id} speaking, rendered by its service at {live.endpoint.grpc_address}")
