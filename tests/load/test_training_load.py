"""Three people train avatars at once, with the per-person bounds set at what each of them uses.

Every part a process of its own, as in production: the fourteen plugins of the flow up to the
round's verdict (`python -m plugins.<name>.server`, `python -m plugins.trainer SUBMODEL`) and two
workers (one per core of the CI machine); the host serves from this test's event loop. Each
person, a CLI user with a key of their own, keeps two avatars (TWINFORGE_MAX_AVATARS_PER_PERSON=2)
and trains one video a day (TWINFORGE_MAX_TRAININGS_PER_DAY=1): a third avatar and a second video
are refused in words, the first videos go through intake, preprocessing, the materials, the
cut-out, the four sub-models and the evaluation, side by side.

Checked: each refusal names its bound and what to do; every training ends with its round's verdict,
every run on its first attempt; seqs contiguous; memory bounded. Measured: trainings an hour, the
longest wait in the queue, peak memory per process, wall time (the synthetic talking face of
tests/fixtures/talking_face.py, 11 s, preset tiny: no samples needed, so it runs in CI)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import grpc
import pytest
from pydantic import SecretStr

from host.auth import issue
from host.channels import host_channel_aio
from host.settings import get_settings
from host.storage import models
from tests.fixtures.flow_plugins import FLOW_PLUGINS
from tests.integration.test_host_flow import upload
from tests.integration.test_scheduler import until, workers  # noqa: F401 (workers is a fixture)
from tests.load.test_many_people import CLIP_SECONDS, WORKERS, Memory, clip, longest_wait_s, notes_of, plugins_and_workers, runs_of  # noqa: F401 (clip is a fixture)
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

PEOPLE = ("cli:trainer-1", "cli:trainer-2", "cli:trainer-3")
AVATARS_EACH = 2  # the bound on avatars kept, reached
TRAININGS_EACH = 1  # the bound on videos trained a day, reached
PRESET = "tiny"
TIMEOUT_S = 840
# Peak resident memory, MiB: a worker holds no media (measured 77); a plugin holds the runs it serves at
# once, a trainer its training set and networks (measured: sync_detection 1139, generator 972, refiner
# 873); the host keeps no per-avatar state (measured growth 3).
WORKER_PEAK_MIB = 200
PLUGIN_PEAK_MIB = 1500
HOST_GROWTH_MIB = 150


async def refused(call, code: str) -> str:
    """The words of a RESOURCE_EXHAUSTED refusal carrying `code`: its cause and its advice."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    metadata = dict(caught.value.trailing_metadata() or ())
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and metadata.get("twinforge-error-code") == code, caught.value
    return f"{caught.value.details()}; {metadata.get('twinforge-advice', '')}"


async def person(stack: contextlib.AsyncExitStack, host: str, owner: str, clip: Path) -> tuple[str, list[str]]:
    """Keeps two avatars and trains one of them; returns that one and the words of each refusal."""
    _, key = issue(owner, "user")
    channel = await stack.enter_async_context(host_channel_aio(host, get_settings().model_copy(update={"api_key": SecretStr(key)})))
    stub = host_grpc.HostServiceStub(channel)
    avatars = [(await stub.CreateAvatar(host_pb.CreateAvatarRequest(name=f"{owner} {i}"))).avatar.avatar_id for i in range(AVATARS_EACH)]
    words = [await refused(stub.CreateAvatar(host_pb.CreateAvatarRequest(name=f"{owner} one too many")), "too_many_avatars")]
    first = await upload(stub, avatars[0], clip, chunk=1 << 20)
    await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatars[0], video=first, preset=PRESET))
    second = await upload(stub, avatars[1], clip, chunk=1 << 20)
    words.append(await refused(stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatars[1], video=second, preset=PRESET)),
                               "too_many_trainings"))
    return avatars[0], words


def trained(avatar_ids: list[str]) -> bool:
    """Whether every avatar's round has its verdict; fails at once on a failed run."""
    runs = runs_of(avatar_ids)
    broken = [(run.avatar_id, run.stage, run.error_json) for run in runs if run.state == "failed"]
    assert not broken, broken
    return sum(run.stage == "quality_eval" and run.state == "succeeded" for run in runs) == len(avatar_ids)


@pytest.mark.timeout(TIMEOUT_S + 60)
async def test_three_people_train_at_once_within_their_bounds(host, runtime, workers, clip, tmp_path, monkeypatch, reliability):  # noqa: F811
    began = time.monotonic()
    bounds = {"INTAKE_PRESET": PRESET, "MAX_AVATARS_PER_PERSON": str(AVATARS_EACH), "MAX_TRAININGS_PER_DAY": str(TRAININGS_EACH)}
    for key, value in bounds.items():
        monkeypatch.setenv(f"TWINFORGE_{key}", value)
    get_settings.cache_clear()
    runtime.settings = get_settings()
    async with contextlib.AsyncExitStack() as stack:
        plugins, _ = await plugins_and_workers(stack, tmp_path, host, FLOW_PLUGINS, workers, register_timeout=240)
        memory = Memory({"host (test process)": os.getpid(), **{f"plugin {s}": p.pid for s, p in plugins.items()},
                         **{f"worker {i}": p.pid for i, p in enumerate(workers.procs)}})
        memory.sample()
        done = asyncio.Event()

        async def sample() -> None:
            while not done.is_set():
                memory.sample()
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        people = await asyncio.gather(*(person(stack, host, owner, clip) for owner in PEOPLE))
        avatar_ids = [avatar for avatar, _ in people]
        await until(lambda: trained(avatar_ids), TIMEOUT_S - (time.monotonic() - began), f"all {len(avatar_ids)} trainings have their verdict")
        through = time.monotonic() - started
        done.set()
        await sampler
    wall = time.monotonic() - began

    for _, (avatars_words, trainings_words) in people:
        assert f"{AVATARS_EACH} avatars" in avatars_words and "delete one" in avatars_words, avatars_words
        assert f"submitted {TRAININGS_EACH} videos" in trainings_words and "submit it again after" in trainings_words, trainings_words
    assert models.Avatar.select().count() == len(PEOPLE) * AVATARS_EACH and models.Submission.select().count() == len(PEOPLE) * TRAININGS_EACH
    runs = runs_of(avatar_ids)
    assert {(run.avatar_id, run.state) for run in runs} == {(a, "succeeded") for a in avatar_ids}
    assert {(run.avatar_id, run.stage) for run in runs} == {(a, stage) for a in avatar_ids for stage in FLOW_PLUGINS}
    assert all(run.attempt == 1 for run in runs), [(run.stage, run.attempt) for run in runs if run.attempt != 1]
    notes = notes_of(avatar_ids)
    by_avatar: dict[str, list[int]] = {}
    for note in notes:
        by_avatar.setdefault(note.avatar_id, []).append(note.seq)
    for avatar_id, seqs in by_avatar.items():
        assert seqs == list(range(1, len(seqs) + 1)), avatar_id

    peaks = ", ".join(f"{name} {mib:.0f}" for name, mib in sorted(memory.peak.items()))
    host_growth = memory.growth("host (test process)")
    assert host_growth < HOST_GROWTH_MIB, f"the host grew by {host_growth:.0f} MiB; peaks: {peaks}"
    for name, mib in memory.peak.items():
        limit = WORKER_PEAK_MIB if name.startswith("worker") else PLUGIN_PEAK_MIB if name.startswith("plugin") else None
        assert limit is None or mib < limit, f"{name} peaked at {mib:.0f} MiB"

    wait = longest_wait_s(notes)
    observed = (f"{len(avatar_ids)} trainings from upload to verdict in {through:.0f} s ({len(avatar_ids) / through * 3600:.0f} an hour; "
                f"{wall:.0f} s wall with start-up); {len(runs)} runs, each on its first attempt; longest wait in the queue {wait:.0f} s; "
                f"each person's third avatar and second video refused (RESOURCE_EXHAUSTED: too_many_avatars, too_many_trainings); "
                f"peak RSS MiB: {peaks}; host grew {host_growth:.0f}")
    print(observed)
    reliability.record(
        section="load",
        what=(f"{len(PEOPLE)} people train at once through gRPC, each at the bounds (TWINFORGE_MAX_AVATARS_PER_PERSON={AVATARS_EACH}, "
              f"TWINFORGE_MAX_TRAININGS_PER_DAY={TRAININGS_EACH}) and asking past them; {CLIP_SECONDS} s synthetic talking-face clips "
              f"(preset {PRESET}), {WORKERS} worker processes, {len(FLOW_PLUGINS)} plugin processes"),
        expected=(f"the requests past a bound refused in words (the bound, how far, what to do); every training reaches its round's "
                  f"verdict, every run on its first attempt; seqs contiguous; host growth < {HOST_GROWTH_MIB} MiB, workers < "
                  f"{WORKER_PEAK_MIB}, plugins < {PLUGIN_PEAK_MIB}"),
        observed=observed,
        lost="nothing",
    )
