"""The run context handed to `Plugin.run`: inputs as local files, the checkpoint to resume from,
and the calls that report progress, metrics, logs and artifacts back to the person.

Reports are queued to the gRPC stream from the plugin's thread; progress is throttled to about one
report a second so a tight training loop cannot flood the message center.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host.storage.blobs import BlobStore, blob_key
from plugins.sdk.errors import Cancelled, StageFailed
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

PROGRESS_EVERY_S = 1.0
CHECKPOINT_NAME = "checkpoint"

_LEVELS = {
    "debug": plugin_pb.LOG_LEVEL_DEBUG,
    "info": plugin_pb.LOG_LEVEL_INFO,
    "warning": plugin_pb.LOG_LEVEL_WARNING,
    "error": plugin_pb.LOG_LEVEL_ERROR,
}


@dataclass
class LocalInput:
    ref: plugin_pb.ArtifactRef
    path: Path


@dataclass
class RunContext:
    avatar_id: str
    stage: str
    run_id: str
    attempt: int
    parameters: dict[str, Any]
    workdir: Path
    inputs: list[LocalInput]
    resume_checkpoint: Path | None
    blobs: BlobStore
    emit: Callable[[plugin_pb.RunResponse], None]
    cancelled: threading.Event = field(default_factory=threading.Event)
    summary: dict[str, Any] = field(default_factory=dict)
    outputs: list[plugin_pb.ArtifactRef] = field(default_factory=list)
    waiting_for_user: bool = False
    _started: float = field(default_factory=time.monotonic)
    _last_progress: float = 0.0

    def input(self, kind: str) -> Path:
        """The local file of the first input of this kind."""
        for item in self.inputs:
            if item.ref.kind == kind:
                return item.path
        raise StageFailed(
            code="missing_input",
            message=f"stage {self.stage!r} needs an input of kind {kind!r}, and none was given",
            advice="submit the stage with that input, or run the stage that produces it first",
        )

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled(f"run {self.run_id} was cancelled")

    def progress(self, fraction: float, message: str = "", eta_seconds: float | None = None) -> None:
        """Reports progress; the ETA is estimated from the elapsed time when not given."""
        self.check_cancelled()
        now = time.monotonic()
        fraction = max(0.0, min(1.0, fraction))
        if now - self._last_progress < PROGRESS_EVERY_S and 0.0 < fraction < 1.0:
            return
        self._last_progress = now
        if eta_seconds is None:
            elapsed = now - self._started
            eta_seconds = elapsed * (1 - fraction) / fraction if fraction > 0.01 else -1.0
        self.emit(plugin_pb.RunResponse(progress=plugin_pb.Progress(fraction=fraction, message=message, eta_seconds=eta_seconds)))

    def log(self, message: str, level: str = "info") -> None:
        self.emit(plugin_pb.RunResponse(log=plugin_pb.LogLine(level=_LEVELS[level], message=message)))

    def metric(self, name: str, value: float, step: int = 0) -> None:
        self.emit(plugin_pb.RunResponse(metric=plugin_pb.Metric(name=name, value=float(value), step=step)))

    def save_artifact(
        self, path: Path, name: str, kind: str, metadata: dict[str, Any] | None = None, output: bool = True
    ) -> plugin_pb.ArtifactRef:
        """Stores a file under this run's key prefix (sha256 checked) and reports it; outputs feed
        the next stages."""
        info = self.blobs.put_file(blob_key(self.avatar_id, self.stage, self.run_id, name), Path(path))
        ref = plugin_pb.ArtifactRef(
            key=info.key,
            kind=kind,
            sha256=info.sha256,
            size=info.size,
            name=name,
            metadata_json=json.dumps(metadata or {}, sort_keys=True),
        )
        self.emit(plugin_pb.RunResponse(artifact=plugin_pb.ArtifactProduced(artifact=ref)))
        if output:
            self.outputs = [o for o in self.outputs if o.name != name] + [ref]
        return ref

    def save_checkpoint(self, path: Path, metadata: dict[str, Any] | None = None) -> plugin_pb.ArtifactRef:
        """Replaces this run's checkpoint; a later attempt of the run receives it as resume_checkpoint."""
        return self.save_artifact(path, CHECKPOINT_NAME, "checkpoint", metadata, output=False)
