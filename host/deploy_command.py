"""`twinforge deploy AVATAR [--target local|kubernetes]` and `twinforge undeploy AVATAR`: the one
command from an approved avatar to a live service, with the packaging's and the deployment's
progress as they happen, through the host (host/deployments.py)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click
import grpc

from host.cli_client import default_by, host_stub, rpc_failed
from host.render_command import download
from twinforge.host.v1 import host_service_pb2 as host_pb

PACKAGING, DEPLOYMENT = "image_packaging", "deployment"
MANIFESTS_KIND = "manifests"
EXIT_NOT_LIVE = 4
FAILED = ("stage_failed", "stage_cancelled")


def show_progress(n: host_pb.Notification, payload: dict) -> None:
    """A stage's progress as one line on stderr: what `deploy` and `produce` print as they follow."""
    click.echo(f"{n.stage:>20}: {payload.get('fraction', 0) * 100:5.1f}% {payload.get('message', '')}", err=True)


def stage_failed(n: host_pb.Notification, payload: dict) -> click.ClickException:
    """The failed stage's own words, with its advice."""
    error = payload.get("error", {})
    return click.ClickException(f"{n.stage} failed: {error.get('message', n.kind)}\n  advice: {error.get('advice') or 'see twinforge watch'}")


def follow(stub, avatar_id: str, first_run: str, last_stage: str) -> dict:
    """Prints the progress of `first_run` and of the `last_stage` run that follows it; returns the
    last run's succeeded payload, or raises with the failure's words."""
    watched = {first_run}
    seen_first = False
    for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar_id, after_seq=0)):
        n = reply.notification
        seen_first = seen_first or n.run_id == first_run
        if not seen_first:
            continue
        if n.stage == last_stage and n.kind == "stage_queued":
            watched.add(n.run_id)
        if n.run_id not in watched:
            continue
        payload = json.loads(n.payload_json or "{}")
        if n.kind == "stage_progress":
            show_progress(n, payload)
        elif n.kind in FAILED:
            raise stage_failed(n, payload)
        elif n.kind == "stage_succeeded" and n.stage == last_stage:
            return payload.get("summary", {})
    raise click.ClickException("the host closed the notification stream before the deployment finished; follow it with twinforge watch")


def start(method: str, request) -> tuple[object, object, grpc.Channel]:
    """Calls the host; returns its reply with the stub and the channel, left open to follow the run."""
    channel, stub = host_stub()
    try:
        return getattr(stub, method)(request, timeout=30), stub, channel
    except grpc.RpcError as exc:
        channel.close()
        raise rpc_failed(exc) from None


def finish(stub, channel: grpc.Channel, avatar_id: str, run_id: str) -> dict:
    try:
        return follow(stub, avatar_id, run_id, DEPLOYMENT)
    except grpc.RpcError as exc:
        raise rpc_failed(exc) from None
    finally:
        channel.close()


@click.command("deploy")
@click.argument("avatar_id")
@click.option("--target", type=click.Choice(["local", "kubernetes"]), default="local", show_default=True, help="Where the service runs.")
@click.option("--by", default=None, help="Who deploys, kept in the avatar's history (default: cli:<your user name>).")
@click.option("--no-wait", is_flag=True, help="Return once the packaging is queued; follow it with twinforge watch.")
@click.option("--json", "as_json", is_flag=True, help="The endpoint as JSON.")
def deploy_command(avatar_id: str, target: str, by: str | None, no_wait: bool, as_json: bool) -> None:
    """Package the approved AVATAR_ID as an OCI image and start it on the target.

    Exit codes: 0 deployed (or queued with --no-wait), 1 refused or failed (the message says why
    and what to do), 3 the host is unavailable, 4 not live: kubernetes without a kubeconfig, whose
    manifests are written to ./twinforge-manifests-AVATAR_ID to apply with kubectl."""
    reply, stub, channel = start("Deploy", host_pb.DeployRequest(avatar_id=avatar_id, target=target, by=by or default_by()))
    click.echo(f"packaging the image (run {reply.run.run_id})", err=True)
    if no_wait:
        channel.close()
        return
    folder = Path(f"twinforge-manifests-{avatar_id}")
    try:
        summary = follow(stub, avatar_id, reply.run.run_id, DEPLOYMENT)
        written = fetch_manifests(stub, avatar_id, folder) if "manifests" in summary else []
    except grpc.RpcError as exc:
        raise rpc_failed(exc) from None
    finally:
        channel.close()
    if "manifests" in summary:
        if as_json:
            click.echo(json.dumps({**summary["manifests"], "folder": str(folder)}, indent=2))
        else:
            click.echo(f"avatar {avatar_id} is NOT live: no kubeconfig is set, so nothing was sent to a cluster. Its Kubernetes "
                       f"manifests are in {folder}/ ({', '.join(p.name for p in written)}): apply them with `kubectl apply -f {folder}`, "
                       "or set TWINFORGE_KUBECONFIG and deploy again to have the rollout followed until it is ready")
        sys.exit(EXIT_NOT_LIVE)
    live = summary.get("endpoint", {})
    if as_json:
        click.echo(json.dumps(live, indent=2))
    else:
        click.echo(f"avatar {avatar_id} is live ({live.get('target')}): gRPC {live.get('grpc_address')}, HTTP {live.get('http_address')}, image {live.get('image_reference') or live.get('image_digest')}")


def fetch_manifests(stub, avatar_id: str, folder: Path) -> list[Path]:
    """The newest deployment run's manifests, downloaded into `folder` under their own names."""
    runs = stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar_id, stage=DEPLOYMENT), timeout=30).runs
    refs = [ref for ref in runs[-1].outputs if ref.kind == MANIFESTS_KIND] if runs else []
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for ref in refs:
        target = folder / Path(ref.name).name
        shutil.copyfile(download(stub, ref, folder / ".downloads"), target)
        written.append(target)
    shutil.rmtree(folder / ".downloads", ignore_errors=True)
    return written


@click.command("undeploy")
@click.argument("avatar_id")
@click.option("--by", default=None, help="Who undeploys, kept in the avatar's history (default: cli:<your user name>).")
def undeploy_command(avatar_id: str, by: str | None) -> None:
    """Stop AVATAR_ID's live service and forget its endpoint (its image stays stored)."""
    reply, stub, channel = start("Undeploy", host_pb.UndeployRequest(avatar_id=avatar_id, by=by or default_by()))
    finish(stub, channel, avatar_id, reply.run.run_id)
    click.echo(f"avatar {avatar_id} is no longer deployed")
