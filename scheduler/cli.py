"""`twinforge queue`: the operator's view and controls of the task waiting queue.

It talks to Redis and the database directly (an operator tool on the platform's machine), and
changes runs only through the host's use cases (host/use_cases.py), so every change leaves a notification. People get
tables, scripts get `--json`. Exit codes: 0 done, 1 the request cannot be done (unknown job, wrong
state), 2 bad usage, 3 Redis or the database is unavailable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import click
import peewee
import redis

from host.bootstrap import Runtime, bootstrap
from host.cli_client import EXIT_UNAVAILABLE
from host.errors import TwinforgeError, Unavailable
from host.state import StageState
from host.settings import get_settings
from host.storage import models
from host.storage.db import redacted
from host.storage.models import utcnow
from scheduler import admin, status
from scheduler.queues import Priority

EXIT_BAD_REQUEST = 1
WAIT_POLL_S = 0.5


class QueueGroup(click.Group):
    """Turns errors into a message that says what to do, with the exit code scripts branch on."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Unavailable as exc:
            raise _failure(str(exc), EXIT_UNAVAILABLE) from None
        except TwinforgeError as exc:
            raise _failure(str(exc), EXIT_BAD_REQUEST) from None
        except redis.RedisError as exc:
            url = redacted(get_settings().resolved_redis_url)
            raise _failure(f"[queue] Redis at {url} is unavailable: {exc} — start Redis, or set TWINFORGE_REDIS_URL to the platform's Redis", EXIT_UNAVAILABLE) from None
        except peewee.DatabaseError as exc:
            raise _failure(f"[queue] the database is unavailable: {exc} — start the platform (`twinforge up`) or set TWINFORGE_DATABASE_URL / TWINFORGE_DATA_DIR to its database", EXIT_UNAVAILABLE) from None


def _failure(message: str, code: int) -> click.ClickException:
    error = click.ClickException(message)
    error.exit_code = code
    return error


_runtime: Runtime | None = None


def command_runtime() -> Runtime:
    """Opens the database and Redis once per command, without migrating: the platform owns the schema."""
    global _runtime
    if _runtime is None:
        _runtime = bootstrap(run_migrations=False)
    return _runtime


def as_json(value: Any) -> str:
    def plain(item: Any) -> Any:
        if dataclasses.is_dataclass(item):
            return dataclasses.asdict(item)
        if isinstance(item, dt.datetime):
            return item.isoformat() + "Z"
        return str(item)

    return json.dumps(value, default=plain, indent=2)


def table(headers: Sequence[str], rows: list[Sequence[object]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for row in [list(headers)] + cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def ago(value: dt.datetime | None) -> str:
    if value is None:
        return "-"
    seconds = max(0, int((utcnow() - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def place(row: status.JobRow) -> str:
    if row.position:
        return f"{row.position[0]} of {row.position[1]}"
    return row.worker or "-"


json_option = click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")


@click.group(cls=QueueGroup)
def queue() -> None:
    """The task waiting queue: queues, workers, GPUs and jobs."""


@queue.command("ls")
@json_option
def ls(json_out: bool) -> None:
    """Queues and their depths, workers with their current job, GPUs busy and free."""
    view = status.overview(command_runtime())
    if json_out:
        data = dataclasses.asdict(view) | {"gpus_busy": view.gpus_busy, "gpus_free": view.gpus_free}
        click.echo(as_json(data))
        return
    table(
        ["QUEUE", "WAITING", "RUNNING", "STATE"],
        [[q.name, q.waiting, q.running, "paused" if q.paused else "open"] for q in view.queues],
    )
    click.echo()
    if view.workers:
        table(
            ["WORKER", "STATE", "RESOURCE", "JOB", "LAST SEEN"],
            [[w.name, w.state, w.resource if w.gpu is None else f"gpu {w.gpu}", w.job or "-", ago(w.last_seen)] for w in view.workers],
        )
    else:
        click.echo("no workers: start one with `twinforge worker --gpu 0` or `twinforge worker --cpu 1`")
    click.echo()
    click.echo(f"GPUs: {view.gpus_busy} busy, {view.gpus_free} free" + ("" if view.gpus else " (no GPU workers)"))


@queue.command()
@click.option("--state", type=click.Choice([s.value for s in status.JobState]), default=None, help="Only jobs in this state.")
@click.option("--limit", default=100, show_default=True, help="At most this many jobs, most recent first.")
@json_option
def jobs(state: str | None, limit: int, json_out: bool) -> None:
    """Jobs, most recently changed first."""
    rows = status.list_jobs(command_runtime(), status.JobState(state) if state else None, limit)
    if json_out:
        click.echo(as_json(rows))
        return
    if not rows:
        click.echo("no jobs" + (f" {state}" if state else ""))
        return
    table(
        ["JOB", "STAGE", "STATE", "ATTEMPT", "QUEUE", "PLACE/WORKER", "UPDATED"],
        [[r.job, r.stage, r.state.value, r.attempt, r.queue or "-", place(r), ago(r.updated_at)] for r in rows],
    )


@queue.command()
@click.argument("job")
@click.option("--lines", default=10, show_default=True, help="Log lines to show.")
@json_option
def show(job: str, lines: int, json_out: bool) -> None:
    """One job: stage, avatar, attempts, last error and the tail of its log."""
    detail = status.job_detail(command_runtime(), job, lines)
    if json_out:
        click.echo(as_json(detail))
        return
    row = detail.row
    facts = [
        ("job", row.job),
        ("run", row.run_id),
        ("stage", row.stage),
        ("avatar", f"{detail.avatar_name} ({row.avatar_id})"),
        ("state", f"{row.state.value} (run {row.run_state})"),
        ("attempts", f"{row.attempt} of {detail.max_attempts}"),
        ("priority", row.priority),
        ("queue", row.queue or "-"),
        ("place", f"{row.position[0]} of {row.position[1]}" if row.position else "-"),
        ("worker", row.worker or "-"),
        ("checkpoint", detail.checkpoint or "-"),
        ("created", f"{detail.created_at:%Y-%m-%d %H:%M:%S}Z"),
        ("updated", f"{row.updated_at:%Y-%m-%d %H:%M:%S}Z ({ago(row.updated_at)})"),
    ]
    if detail.error:
        facts.append(("last error", f"{detail.error.get('code', '')}: {detail.error.get('message', '')}"))
        facts.append(("advice", detail.error.get("advice", "")))
    for name, value in facts:
        click.echo(f"{name + ':':<12} {value}")
    click.echo("log:" if detail.log else "log:        (nothing reported yet)")
    for line in detail.log:
        click.echo(f"  {line}")


@queue.command()
@click.argument("job", required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Retry every failed job.")
@json_option
def retry(job: str | None, all_failed: bool, json_out: bool) -> None:
    """Put a failed job (or every failed one) back in the queue, resuming from its checkpoint."""
    if bool(job) == all_failed:
        raise click.UsageError("give either a JOB or --failed")
    runtime = command_runtime()
    retried, skipped = admin.retry_failed(runtime) if all_failed else ([admin.retry(runtime, job)], [])
    if json_out:
        click.echo(as_json({"retried": [r.id for r in retried], "skipped": skipped}))
        return
    for run in retried:
        click.echo(f"retried {run.id} ({run.stage}): queued for attempt {run.attempt + 1}")
    for skip in skipped:
        click.echo(f"skipped {skip.run_id}: {skip.reason}")
    if all_failed and not retried and not skipped:
        click.echo("no failed jobs")


@queue.command()
@click.argument("job")
@click.option("--reason", default="cancelled by an operator", show_default=True)
@click.option("--wait", "wait_s", type=float, default=0.0, help="Wait up to this many seconds for a running job to stop.")
@json_option
def cancel(job: str, reason: str, wait_s: float, json_out: bool) -> None:
    """Cancel a job: a waiting one at once, a running one at its next progress report."""
    runtime = command_runtime()
    run = admin.cancel(runtime, job, reason)
    if wait_s and run.state == StageState.RUNNING.value:
        run = _wait(lambda: models.StageRun.get_by_id(run.id), lambda r: r.state != StageState.RUNNING.value, wait_s)
    if json_out:
        click.echo(as_json({"run_id": run.id, "state": run.state}))
    elif run.state == StageState.RUNNING.value:
        click.echo(f"cancel requested for {run.id} ({run.stage}); its worker stops it at the plugin's next report")
    else:
        click.echo(f"{run.id} ({run.stage}) is {run.state}")


@queue.command()
@click.argument("job")
@click.option("--priority", required=True, type=click.Choice([p.value for p in Priority]))
@json_option
def move(job: str, priority: str, json_out: bool) -> None:
    """Move a waiting job to another priority queue of the same resource."""
    run, source, target = admin.move(command_runtime(), job, Priority(priority))
    if json_out:
        click.echo(as_json({"run_id": run.id, "from": source, "to": target}))
    else:
        click.echo(f"moved {run.id} ({run.stage}) from {source} to the back of {target}")


@queue.command("pause")
@click.argument("queue_name", metavar="QUEUE")
def pause_queue(queue_name: str) -> None:
    """Pause a queue: its jobs stay, workers take none of them until it is resumed."""
    name, changed = admin.pause(command_runtime(), queue_name)
    click.echo(f"paused {name}" if changed else f"{name} was already paused")


@queue.command("resume")
@click.argument("queue_name", metavar="QUEUE")
def resume_queue(queue_name: str) -> None:
    """Resume a paused queue."""
    name, changed = admin.resume(command_runtime(), queue_name)
    click.echo(f"resumed {name}" if changed else f"{name} was not paused")


@queue.command()
@click.argument("worker")
@click.option("--wait", "wait_s", type=float, default=0.0, help="Wait up to this many seconds for the worker to exit.")
def drain(worker: str, wait_s: float) -> None:
    """Let a worker finish its current job, take no other, and exit."""
    runtime = command_runtime()
    drained = admin.drain(runtime, worker)
    job = drained.get_current_job_id()
    click.echo(f"draining {drained.name}: " + (f"it finishes {job}, then exits" if job else "it is idle and exits now"))
    if wait_s:
        _wait(lambda: admin.worker_alive(runtime, drained.name), lambda alive: not alive, wait_s)
        click.echo(f"{drained.name} has exited")


@queue.command()
@click.option("--failed", "failed", is_flag=True, help="Purge failed jobs (the only kind purged; required).")
@click.option("--older-than", "older_than", required=True, help="Age such as 7d, 12h, 30m.")
@json_option
def purge(failed: bool, older_than: str, json_out: bool) -> None:
    """Delete failed jobs older than an age, with their runs; notifications and artifacts stay."""
    if not failed:
        raise click.UsageError("only failed jobs are purged: pass --failed")
    purged = admin.purge_failed(command_runtime(), admin.parse_age(older_than))
    if json_out:
        click.echo(as_json(purged))
    else:
        click.echo(f"purged {purged.runs} failed runs and {purged.jobs} job records older than {older_than}")


def _wait(read: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    value = read()
    while not done(value):
        if time.monotonic() >= deadline:
            raise _failure(f"[queue] still not done after {timeout_s:g} s — check again with `twinforge queue ls` or `twinforge queue show`", EXIT_BAD_REQUEST)
        time.sleep(WAIT_POLL_S)
        value = read()
    return value
