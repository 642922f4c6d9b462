"""The only job function: run one attempt of a stage run on a plugin and record its events.

It runs inside an RQ worker: it takes the run id, reads everything else from the database, routes
the call to a healthy plugin replica, and writes each streamed event through the host's use cases (host/use_cases.py)
(with its notification) as it arrives.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import grpc
import peewee

from host import quarantine, run_finished, use_cases
from host.artifacts import refs_from_json
from host.bootstrap import Runtime, bootstrap
from host.errors import IllegalTransition, TwinforgeError, Unavailable
from host.routing import OpenRun, open_run
from host.state import StageState
from host.storage import models
from host.storage.blobs import blob_key
from scheduler.leases import Lease, LeaseTaken
from plugins.sdk.context import CHECKPOINT_NAME
from scheduler.recovery import SUPERSEDED, interrupt
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

log = logging.getLogger(__name__)

CANCEL_POLL_S = 1.0
PLUGIN_WAIT_POLL_S = 0.5

_runtime: Runtime | None = None


def worker_runtime() -> Runtime:
    """The worker process's wiring, made on its first job (SimpleWorker: one process, no fork)."""
    global _runtime
    if _runtime is None:
        _runtime = bootstrap(run_migrations=False)
    return _runtime


def run_stage(run_id: str) -> str:
    runtime = worker_runtime()
    holder = f"{socket.gethostname()}:{os.getpid()}"
    try:
        with Lease(runtime.redis, run_id, holder, runtime.settings.lease_ttl_s):
            try:
                with runtime.uow() as uow:
                    run = use_cases.start_run(uow, run_id)
            except IllegalTransition as exc:
                log.info("run not started", extra={"run_id": run_id, "reason": str(exc)})
                return "skipped"
            outcome = _drive(runtime, run)
            if outcome == SUPERSEDED:
                log.warning("attempt superseded: another worker resumed this run", extra={"run_id": run_id, "attempt": run.attempt})
            return outcome
    except LeaseTaken as exc:
        log.info("run not started: a duplicate job", extra={"run_id": run_id, "reason": str(exc)})
        return "skipped"


def _checkpoint(runtime: Runtime, run: models.StageRun) -> plugin_pb.ArtifactRef | None:
    """The run's checkpoint as the blob store holds it now. Each save replaces the blob at the run's
    one checkpoint key, and the plugin's report of a save can die in flight with a killed worker: the
    recorded ref is then missing or names an older blob (its sha256 no longer matching, which would
    fail the run as corrupt), so the store, not the record, says what the next attempt resumes from."""
    recorded = refs_from_json(run.checkpoint_json) if run.checkpoint_json else []
    key = recorded[0].key if recorded else blob_key(run.avatar_id, run.stage, run.id, CHECKPOINT_NAME)
    if not runtime.blobs.exists(key):
        return recorded[0] if recorded else None
    info = runtime.blobs.stat(key)
    return plugin_pb.ArtifactRef(key=key, kind="checkpoint", name=CHECKPOINT_NAME, sha256=info.sha256, size=info.size)


def _request(runtime: Runtime, run: models.StageRun) -> plugin_pb.RunRequest:
    return plugin_pb.RunRequest(
        avatar_id=run.avatar_id,
        stage=run.stage,
        run_id=run.id,
        inputs=refs_from_json(run.inputs_json),
        parameters_json=run.parameters_json,
        resume_checkpoint=_checkpoint(runtime, run),
        attempt=run.attempt,
    )


def _open(runtime: Runtime, run: models.StageRun) -> OpenRun:
    """Routes the attempt to a plugin replica, waiting up to plugin_wait_s for one to be reachable:
    a crashed plugin is restarted by its supervisor within seconds, and retrying at once would
    spend every attempt of the run while it starts, failing the run for good."""
    deadline = time.monotonic() + runtime.settings.plugin_wait_s
    while True:
        try:
            return open_run(
                _request(runtime, run),
                runtime.settings.plugin_down_after_s,
                lambda: int(runtime.redis.incr(f"twinforge:rr:{run.stage}")),
                runtime.settings.max_message_bytes,
            )
        except Unavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(PLUGIN_WAIT_POLL_S)


def _drive(runtime: Runtime, run: models.StageRun) -> str:
    try:
        opened = _open(runtime, run)
    except TwinforgeError as exc:
        return interrupt(runtime, run.id, exc.code, exc.cause, exc.advice, attempt=run.attempt)
    stop_watch = threading.Event()
    watcher = threading.Thread(target=_watch_cancel, args=(run, opened, stop_watch), daemon=True)
    watcher.start()
    try:
        return _record(runtime, run, opened)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.CANCELLED and _cancel_requested(run.id):
            with runtime.uow() as uow:
                if not use_cases.still_running(run.id, run.attempt):
                    return SUPERSEDED
                use_cases.confirm_cancelled(uow, run.id)
            return "cancelled"
        return interrupt(
            runtime,
            run.id,
            "plugin_crashed",
            f"the plugin {opened.plugin.name} at {opened.plugin.address} stopped mid-run: {exc.code().name} {exc.details() or ''}".strip(),
            "the run is retried from its last checkpoint; if it keeps failing, check the plugin's log",
            attempt=run.attempt,
        )
    finally:
        stop_watch.set()
        opened.close()


def _record(runtime: Runtime, run: models.StageRun, opened: OpenRun) -> str:
    for event in opened.events():
        kind = event.WhichOneof("event")
        with runtime.uow() as uow:
            if not use_cases.still_running(run.id, run.attempt):
                opened.cancel()
                return SUPERSEDED
            if kind == "progress":
                use_cases.record_progress(uow, run, event.progress)
            elif kind == "artifact":
                use_cases.record_artifact(uow, run, event.artifact.artifact)
            elif kind == "metric":
                use_cases.record_metric(uow, run, event.metric)
            elif kind == "log":
                use_cases.record_log(uow, run, event.log)
            elif kind == "result":
                finished = run_finished.finish_run(uow, run.id, event.result)
        if kind == "result":
            if event.result.error.code == quarantine.CORRUPT:
                quarantine.check_inputs(runtime, finished)  # once the failure is committed, in transactions of its own
            return finished.state
    return interrupt(
        runtime,
        run.id,
        "plugin_protocol",
        f"the plugin {opened.plugin.name} ended the run without a result",
        "the run is retried; if it keeps happening, report it to the plugin's author",
        attempt=run.attempt,
    )


def _cancel_requested(run_id: str) -> bool:
    return bool(
        models.StageRun.select(models.StageRun.cancel_requested).where(models.StageRun.id == run_id).scalar()
    )


def _should_stop(run: models.StageRun) -> bool:
    """Whether the person or an operator asked to cancel, or another attempt has taken the run over."""
    now = models.StageRun.select(models.StageRun.cancel_requested, models.StageRun.state, models.StageRun.attempt).where(models.StageRun.id == run.id).first()
    return now is None or now.cancel_requested or now.state != StageState.RUNNING.value or now.attempt != run.attempt


def _watch_cancel(run: models.StageRun, opened: OpenRun, stop: threading.Event) -> None:
    """Cancels the plugin call when the person or an operator asks, or when a worker cut off from the
    database comes back to find its run resumed elsewhere; the plugin stops at its next report. The
    database may be out of reach meanwhile: the watch goes on until it answers."""
    while not stop.wait(CANCEL_POLL_S):
        try:
            if _should_stop(run):
                opened.cancel()
                return
        except peewee.DatabaseError as exc:
            log.warning("cannot read the run's state", extra={"run_id": run.id, "error": str(exc)})
