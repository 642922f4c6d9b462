"""Long per-frame work in chunks, so that a crash at 80 % resumes at 80 %.

A run's results are arrays with one row per item (frame, audio window). They grow chunk by chunk;
every few seconds all rows so far are saved as the run's checkpoint, and a later attempt of the
run loads them and starts at the first missing chunk. Each chunk is processed from a fresh
state, so a resumed run yields exactly the rows an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from plugins.sdk.context import RunContext

CHECKPOINT_EVERY_S = 5.0
_FINGERPRINT = "__fingerprint__"
_DONE = "__done__"


def fingerprint(ctx: RunContext, version: str, **extra: Any) -> str:
    """What the rows depend on: the inputs' contents, the parameters and the plugin's version. A
    checkpoint with another fingerprint is ignored, never mixed in."""
    material = {
        "inputs": sorted(item.ref.sha256 for item in ctx.inputs),
        "parameters": ctx.parameters,
        "version": version,
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _resumed(ctx: RunContext, mark: str) -> tuple[int, dict[str, list[np.ndarray]]]:
    if ctx.resume_checkpoint is None:
        return 0, {}
    try:
        with np.load(ctx.resume_checkpoint, allow_pickle=False) as saved:
            if str(saved[_FINGERPRINT]) != mark:
                ctx.log("the checkpoint was made from other inputs or settings: starting again", "warning")
                return 0, {}
            done = int(saved[_DONE])
            rows = {name: [saved[name]] for name in saved.files if name not in (_FINGERPRINT, _DONE)}
    except (OSError, ValueError, KeyError) as exc:
        ctx.log(f"the checkpoint cannot be read ({exc}): starting again", "warning")
        return 0, {}
    ctx.log(f"resuming at item {done} from the last checkpoint")
    return done, rows


def _save(ctx: RunContext, mark: str, done: int, rows: dict[str, np.ndarray]) -> None:
    path = ctx.workdir / "chunks-checkpoint.npz"
    np.savez(path, **{_FINGERPRINT: np.array(mark), _DONE: np.array(done)}, **rows)
    ctx.save_checkpoint(path, {"done": done})


def run_in_chunks(
    ctx: RunContext,
    total: int,
    chunk: int,
    process: Callable[[int, int], dict[str, np.ndarray]],
    mark: str,
    message: str,
    start_fraction: float = 0.0,
    end_fraction: float = 1.0,
    checkpoint_every_s: float = CHECKPOINT_EVERY_S,
) -> tuple[int, dict[str, np.ndarray]]:
    """Calls process(first, stop) for each chunk not yet done and returns (the item the work
    resumed at, every row of every array). Progress covers start_fraction..end_fraction."""
    first, parts = _resumed(ctx, mark)
    resumed_at = first
    last_save = time.monotonic()
    span = end_fraction - start_fraction
    while first < total:
        stop = min(total, first + chunk)
        for name, rows in process(first, stop).items():
            if len(rows) != stop - first:
                raise ValueError(f"chunk {first}..{stop} of {name!r} has {len(rows)} rows, not {stop - first}")
            parts.setdefault(name, []).append(np.asarray(rows))
        first = stop
        ctx.progress(start_fraction + span * first / total, f"{message}: {first} of {total}")
        if first < total and time.monotonic() - last_save >= checkpoint_every_s:
            _save(ctx, mark, first, _joined(parts))
            last_save = time.monotonic()
    return resumed_at, _joined(parts)


def _joined(parts: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    joined = {}
    for name, pieces in parts.items():
        if len(pieces) > 1:
            pieces[:] = [np.concatenate(pieces)]
        joined[name] = pieces[0]
    return joined
