"""The `twinforge` command: `up` for the whole platform, `plugins ls`, `watch`, `worker`, `check` (the
intake check of a video file, in-process), and the queue administration mounted from the scheduler."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click
import grpc

from host.logs import configure_logging
from host.settings import get_settings
from scheduler.cli import queue
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

EXIT_UNAVAILABLE = 3


def host_stub() -> tuple[grpc.Channel, host_grpc.HostServiceStub]:
    channel = grpc.insecure_channel(get_settings().host_address)
    return channel, host_grpc.HostServiceStub(channel)


def rpc_failed(exc: grpc.RpcError) -> click.ClickException:
    advice = dict(exc.trailing_metadata() or ()).get("twinforge-advice", "")
    if exc.code() == grpc.StatusCode.UNAVAILABLE and not advice:
        advice = f"is the host running at {get_settings().host_address}? Start it with `twinforge up`"
    error = click.ClickException(f"{exc.details()}" + (f"\n  advice: {advice}" if advice and advice not in (exc.details() or "") else ""))
    error.exit_code = EXIT_UNAVAILABLE if exc.code() == grpc.StatusCode.UNAVAILABLE else 1
    return error


@click.group()
def main() -> None:
    """Twinforge: personal 2D digital humans."""
    configure_logging(get_settings().log_level)


@main.command()
@click.option("--cpu-workers", default=1, show_default=True, help="Queue workers to start on the CPU.")
def up(cpu_workers: int) -> None:
    """Start the host, the built-in plugins and the queue workers on embedded defaults."""
    from host.supervisor import up as run_up

    run_up(get_settings(), cpu_workers)


@main.group()
def plugins() -> None:
    """Registered plugins."""


@plugins.command("ls")
@click.option("--stage", default="", help="Only plugins serving this stage.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_ls(stage: str, as_json: bool) -> None:
    """List registered plugins with their health."""
    channel, stub = host_stub()
    try:
        reply = stub.ListPlugins(host_pb.ListPluginsRequest(stage=stage), timeout=10)
    except grpc.RpcError as exc:
        raise rpc_failed(exc) from None
    finally:
        channel.close()
    rows = [
        {
            "name": p.description.name,
            "version": p.description.version,
            "stages": list(p.description.stages),
            "address": p.address,
            "health": host_pb.PluginHealth.Name(p.health).removeprefix("PLUGIN_HEALTH_").lower(),
            "last_seen": p.last_seen.ToJsonString(),
            "error": p.last_error,
        }
        for p in reply.plugins
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no plugins registered")
        return
    click.echo(f"{'NAME':<20} {'VERSION':<9} {'HEALTH':<8} {'ADDRESS':<22} STAGES")
    for r in rows:
        line = f"{r['name']:<20} {r['version']:<9} {r['health']:<8} {r['address']:<22} {','.join(r['stages'])}"
        click.echo(line + (f"  ({r['error']})" if r["error"] else ""))


@main.command()
@click.argument("avatar_id")
@click.option("--after", default=0, show_default=True, help="Replay notifications after this sequence number.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def watch(avatar_id: str, after: int, as_json: bool) -> None:
    """Print an avatar's notifications live (replaying from --after)."""
    channel, stub = host_stub()
    try:
        for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar_id, after_seq=after)):
            n = reply.notification
            if as_json:
                click.echo(json.dumps({"seq": n.seq, "kind": n.kind, "stage": n.stage, "run_id": n.run_id, "time": n.created_at.ToJsonString(), "payload": json.loads(n.payload_json)}))
            else:
                click.echo(f"{n.seq:>6} {n.created_at.ToJsonString()} {n.kind:<22} {n.stage:<16} {n.payload_json}")
            sys.stdout.flush()
    except grpc.RpcError as exc:
        raise rpc_failed(exc) from None
    except KeyboardInterrupt:
        pass
    finally:
        channel.close()


@main.command()
@click.option("--gpu", "gpu", type=int, default=None, help="Serve the GPU queues on this GPU index.")
@click.option("--cpu", "cpu", type=int, default=None, help="Start this many CPU workers.")
@click.option("--cpu-slot", type=int, default=None, hidden=True)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
def worker(gpu: int | None, cpu: int | None, cpu_slot: int | None, burst: bool) -> None:
    """Run queue workers: --gpu N for one GPU, or --cpu N for N CPU workers."""
    from scheduler.queues import Resource
    from scheduler.worker import run_worker, run_workers

    settings = get_settings()
    if gpu is not None:
        run_worker(settings, Resource.GPU, gpu, burst)
    elif cpu_slot is not None:
        run_worker(settings, Resource.CPU, cpu_slot, burst)
    else:
        run_workers(settings, cpu or 1, burst)


@main.command()
@click.argument("video", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--preset", type=click.Choice(["draft", "standard", "high"]), default=None, help="Thresholds to apply (default: the intake_preset setting).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def check(video: Path, preset: str | None, as_json: bool) -> None:
    """Check a video the way the intake stage does, in this process (no host needed).

    Exit code 0: it passes; 1: it fails a measure; 2: the file cannot be read as a video."""
    from plugins.video_analysis.check import UNREADABLE, check_video

    settings = get_settings()
    report = check_video(video, preset or settings.intake_preset, settings.max_video_bytes)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(f"{video}: {report['verdict'].upper()} ({report['preset']} preset)")
        click.echo(f"{'MEASURE':<22} {'VALUE':<20} {'STATUS':<8} ADVICE")
        for row in report["measures"]:
            value = f"{row['value']}{' ' + row['unit'] if row['unit'] else ''}"
            click.echo(f"{row['name']:<22} {value:<20} {row['status']:<8} {row['advice']}".rstrip())
    if any(row["name"] == UNREADABLE and row["status"] == "fail" for row in report["measures"]):
        sys.exit(2)
    sys.exit(0 if report["verdict"] == "pass" else 1)


main.add_command(queue)

if __name__ == "__main__":
    main()
