"""Chunked work resumes where the last checkpoint left it, and never mixes in rows of other inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from host.storage.local import LocalBlobStore
from plugins.sdk import chunks
from plugins.sdk.context import LocalInput, RunContext
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb


class Crash(Exception):
    pass


def context(tmp_path: Path, events: list, resume: Path | None = None, sha: str = "a" * 64) -> RunContext:
    workdir = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    workdir.mkdir()
    ref = plugin_pb.ArtifactRef(key="k", kind="video", sha256=sha)
    return RunContext(
        avatar_id="av", stage="s", run_id="r", attempt=1, parameters={}, workdir=workdir,
        inputs=[LocalInput(ref=ref, path=tmp_path / "video")], resume_checkpoint=resume,
        blobs=LocalBlobStore(tmp_path / "blobs"), emit=events.append,
    )


def squares(calls: list[int]):
    def process(first: int, stop: int) -> dict[str, np.ndarray]:
        calls.append(first)
        return {"value": np.arange(first, stop) ** 2}

    return process


def test_a_resumed_run_starts_at_the_checkpoint_and_returns_every_row(tmp_path: Path) -> None:
    events: list = []
    ctx = context(tmp_path, events)
    calls: list[int] = []
    mark = chunks.fingerprint(ctx, "1")

    def crashing(first: int, stop: int) -> dict[str, np.ndarray]:
        if first == 60:
            raise Crash
        return squares(calls)(first, stop)

    with pytest.raises(Crash):
        chunks.run_in_chunks(ctx, 100, 20, crashing, mark, "work", checkpoint_every_s=0)
    saved = [e.artifact.artifact for e in events if e.HasField("artifact")]
    assert saved and saved[-1].kind == "checkpoint"
    local = tmp_path / "resume.npz"
    ctx.blobs.get_file(saved[-1].key, local)

    again: list[int] = []
    resumed_ctx = context(tmp_path, [], resume=local)
    resumed_at, rows = chunks.run_in_chunks(resumed_ctx, 100, 20, squares(again), mark, "work", checkpoint_every_s=0)
    assert resumed_at == 60 and again == [60, 80]
    assert np.array_equal(rows["value"], np.arange(100) ** 2)


def test_a_checkpoint_of_other_inputs_is_ignored(tmp_path: Path) -> None:
    events: list = []
    ctx = context(tmp_path, events)
    chunks.run_in_chunks(ctx, 50, 10, squares([]), chunks.fingerprint(ctx, "1"), "work", checkpoint_every_s=0)
    local = tmp_path / "resume.npz"
    ctx.blobs.get_file([e.artifact.artifact for e in events if e.HasField("artifact")][-1].key, local)

    other = context(tmp_path, [], resume=local, sha="b" * 64)
    calls: list[int] = []
    resumed_at, rows = chunks.run_in_chunks(other, 50, 10, squares(calls), chunks.fingerprint(other, "1"), "work")
    assert resumed_at == 0 and calls == [0, 10, 20, 30, 40]
    assert np.array_equal(rows["value"], np.arange(50) ** 2)


def test_a_chunk_with_the_wrong_row_count_is_refused(tmp_path: Path) -> None:
    ctx = context(tmp_path, [])
    with pytest.raises(ValueError, match="rows"):
        chunks.run_in_chunks(ctx, 10, 5, lambda a, b: {"x": np.zeros(1)}, "m", "work")
