"""Ten people submit twenty avatars at once, each part a process of its own as in production: the
six intake and preprocessing plugins (`python -m plugins.<name>.server`), two workers (`twinforge
worker`, one per core of the CI machine) and the Telegram bot (`python -m bot.main`, talking to the
fake Bot API server); the host serves from this test's event loop. Half of the people send their
videos through the bot, the other half through the host's gRPC API as CLI users.

Checked: every avatar passes the intake check and preprocessing; the queue places the scheduler
reports are right throughout (sampled twice a second, and every place people were told); memory
stays bounded; no notification is lost. Measured: throughput, peak memory per process, the longest
wait in the queue, wall time.

Every video is the synthetic talking face of tests/fixtures/talking_face.py (a real portrait
speaking with espeak-ng's voice), 11 s long under the `tiny` preset, so the test needs no samples
and runs in CI (about 3.5 min on 2 shared cores, 2.5 min of it the twenty avatars' run)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.catalogue import say, stage_name
from bot.models import FollowedAvatar
from host.auth import issue
from host.channels import host_channel_aio
from host.flow import PREPROCESSING, PREPROCESSING_FLOW
from host.settings import get_settings
from host.storage import models
from scheduler.status import JobState, list_jobs
from tests.fixtures.fake_telegram import TOKEN, FakeTelegram
from tests.fixtures.talking_face import write_talking_face
from tests.integration.test_bot import avatar_of, button, telegram  # noqa: F401 (telegram is a fixture)
from tests.integration.test_host_flow import upload, wait_registered
from tests.integration.test_scheduler import until, workers  # noqa: F401 (workers is a fixture)
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

STAGES = ("video_analysis", *PREPROCESSING, "crop")
PLUGINS = {stage: ("-m", f"plugins.{stage}.server") for stage in STAGES}
TELEGRAM_PEOPLE = (3001, 3002, 3003, 3004, 3005)
CLI_PEOPLE = ("cli:load-1", "cli:load-2", "cli:load-3", "cli:load-4", "cli:load-5")
AVATARS_EACH = 2
WORKERS = 2
CLIP_SECONDS = 11  # the tiny preset fails a video shorter than 10 s
PRESET = "tiny"
SAMPLE_EVERY_S = 0.5
REPLY_TIMEOUT_S = 90.0  # the bot answers while both cores preprocess

# Bounds on resident memory, in MiB. The host keeps no per-avatar state in memory (runs and
# notifications live in the database, blobs are streamed in chunks), so twenty avatars may grow it
# by buffers and caches only (measured: 7); the bot likewise, a follow task per avatar and videos
# streamed through (measured: 28, its thumbnail code loading on the first report). A worker holds no
# media, blobs never pass through it (measured peak: 76); a plugin holds the decoded media of each
# run it serves, at most WORKERS at once (measured peak: 455, segmentation). A leak of a few MiB per
# avatar, or a plugin keeping every clip it saw, crosses these.
HOST_GROWTH_MIB = 100
BOT_GROWTH_MIB = 100
WORKER_PEAK_MIB = 150
PLUGIN_PEAK_MIB = 800


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_talking_face(tmp_path_factory.mktemp("load") / "talking.mp4", seconds=CLIP_SECONDS)


def rss_mib(pid: int) -> float:
    """Resident memory from /proc (psutil is not a dependency); 0 once the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)


@dataclass
class Memory:
    pids: dict[str, int]
    first: dict[str, float] = field(default_factory=dict)
    peak: dict[str, float] = field(default_factory=dict)

    def sample(self) -> None:
        for name, pid in self.pids.items():
            mib = rss_mib(pid)
            self.first.setdefault(name, mib)
            self.peak[name] = max(self.peak.get(name, 0.0), mib)

    def growth(self, name: str) -> float:
        return self.peak[name] - self.first[name]


async def spawn(stack: contextlib.AsyncExitStack, logs: Path, name: str, argv: Sequence[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    """A production entry point (the interpreter's arguments, `-m MODULE [ARGS]`) as its own process,
    killed when the test ends."""
    log = stack.enter_context(open(logs / f"{name}.log", "wb"))
    proc = await asyncio.create_subprocess_exec(sys.executable, *argv, stdout=log, stderr=log, env=env)

    async def kill() -> None:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    stack.push_async_callback(kill)
    return proc


async def plugins_and_workers(stack: contextlib.AsyncExitStack, tmp_path: Path, host: str, argvs: dict[str, Sequence[str]], workers,
                              register_timeout: float) -> tuple[dict[str, asyncio.subprocess.Process], host_grpc.HostServiceStub]:
    """Each plugin (stage -> the interpreter's arguments that start it) a process of its own,
    registered with the host, then WORKERS queue workers: the platform a load test starts; returns
    the plugins and a stub of the host."""
    plugins = {stage: await spawn(stack, tmp_path, f"plugin-{stage}", argv, dict(os.environ)) for stage, argv in argvs.items()}
    stub = host_grpc.HostServiceStub(await stack.enter_async_context(host_channel_aio(host, get_settings())))
    for stage in argvs:
        await wait_registered(stub, stage, timeout=register_timeout)
    for slot in range(WORKERS):
        await workers.start("--cpu-slot", str(slot))
    return plugins, stub


async def watched(stub: host_grpc.HostServiceStub, avatar_id: str) -> list[int]:
    """What `twinforge watch` shows a CLI user, live: the seqs, until the training set is made."""
    seqs = []
    async for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar_id)):
        seqs.append(reply.notification.seq)
        if reply.notification.kind == "stage_succeeded" and reply.notification.stage == "crop":
            return seqs


async def through_grpc(stack: contextlib.AsyncExitStack, host: str, owner: str, clip: Path, watches: dict[str, asyncio.Task]) -> list[str]:
    """A CLI user with a key of their own, creating avatars for themselves and following each live."""
    _, key = issue(owner, "user")
    channel = await stack.enter_async_context(host_channel_aio(host, get_settings().model_copy(update={"api_key": SecretStr(key)})))
    stub = host_grpc.HostServiceStub(channel)
    avatars = []
    for i in range(AVATARS_EACH):
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name=f"{owner} {i}"))).avatar
        watches[avatar.avatar_id] = asyncio.create_task(watched(stub, avatar.avatar_id))
        video = await upload(stub, avatar.avatar_id, clip, chunk=1 << 20)
        await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar.avatar_id, video=video))
        avatars.append(avatar.avatar_id)
    return avatars


async def greeted(fake: FakeTelegram, user: int) -> None:
    fake.text(user, "/start")
    await fake.said_containing(user, "1 to 5 minutes", REPLY_TIMEOUT_S)


async def through_bot(fake: FakeTelegram, user: int, clip: Path) -> list[str]:
    fake.text(user, "/privacy")  # agreed before the first video, which is then stored at once
    statement = await fake.said_containing(user, "What I keep of you", REPLY_TIMEOUT_S)
    fake.press(user, button(statement, "I agree"), "I agree")
    await fake.said_containing(user, "Thank you.", REPLY_TIMEOUT_S)
    avatars = []
    for i in range(AVATARS_EACH):
        name = f"Load {user}-{i}"
        fake.text(user, f"/new {name}")
        created = await fake.said_containing(user, f"New avatar “{name}”", REPLY_TIMEOUT_S)
        assert avatar_of(user) not in created.params["text"]  # no id in what the person reads
        avatars.append(avatar_of(user))
        fake.document(user, f"take{i}.mp4", clip.read_bytes())
        await fake.said_containing(user, f"Stored as version 1 of {name}", REPLY_TIMEOUT_S)
    return avatars


def runs_of(avatar_ids: list[str]) -> list[models.StageRun]:
    return list(models.StageRun.select().where(models.StageRun.avatar.in_(avatar_ids)))


def preprocessed(avatar_ids: list[str]) -> bool:
    """Whether every avatar's training set is made; fails at once on a failed run."""
    runs = runs_of(avatar_ids)
    broken = [(run.avatar_id, run.stage, run.error_json) for run in runs if run.state == "failed"]
    assert not broken, broken
    return sum(run.stage == "crop" and run.state == "succeeded" for run in runs) == len(avatar_ids)


def notes_of(avatar_ids: list[str]) -> list[models.Notification]:
    return list(models.Notification.select().where(models.Notification.avatar.in_(avatar_ids)).order_by(models.Notification.global_seq))


def queue_places(runtime) -> dict[str, tuple[str, int, int]]:
    """run -> (resource, place, of), as `twinforge queue jobs --state queued` reports them."""
    rows = list_jobs(runtime, JobState.QUEUED, limit=10_000)
    return {row.run_id: (row.queue.split("-")[1], *row.position) for row in rows if row.position}


def check_snapshot(places: dict[str, tuple[str, int, int]]) -> None:
    """In one snapshot each queue's places are 1..n, once each, all of the same total. The total may
    exceed n: the listing reads the runs, then the queue, and a run queued in between is counted
    but not listed."""
    by_resource: dict[str, list[tuple[int, int]]] = {}
    for resource, place, of in places.values():
        by_resource.setdefault(resource, []).append((place, of))
    for resource, found in by_resource.items():
        assert sorted(place for place, _ in found) == list(range(1, len(found) + 1)), (resource, sorted(found))
        totals = {of for _, of in found}
        assert len(totals) == 1 and totals.pop() >= len(found), (resource, sorted(found))


def seconds_between(first: dt.datetime, then: dt.datetime) -> float:
    return (then - first).total_seconds()


def told_places(notes: list[models.Notification]) -> dict[str, list[tuple[int, int]]]:
    """run -> every (place, of) its person was told, in order."""
    told: dict[str, list[tuple[int, int]]] = {}
    for note in notes:
        if note.kind == "stage_position":
            data = json.loads(note.payload_json)
            told.setdefault(note.run_id, []).append((data["position"], data["of"]))
    return told


def longest_wait_s(notes: list[models.Notification]) -> float:
    """From a run's first stage_queued to its first stage_running."""
    queued: dict[str, dt.datetime] = {}
    waits = []
    for note in notes:
        if note.kind == "stage_queued":
            queued.setdefault(note.run_id, note.created_at)
        elif note.kind == "stage_running" and note.run_id in queued:
            waits.append(seconds_between(queued.pop(note.run_id), note.created_at))
    return max(waits)


def bot_env(fake: FakeTelegram) -> dict[str, str]:
    """The bot's settings, with a service key of its own as `twinforge up` gives it."""
    _, key = issue("service:bot", "service")
    return dict(
        os.environ, TWINFORGE_API_KEY=key, TWINFORGE_BOT_TOKEN=TOKEN, TWINFORGE_BOT_API_BASE_URL=fake.base_url, TWINFORGE_BOT_MAX_DOWNLOAD_MB="20",
        TWINFORGE_BOT_ALLOWLIST=",".join(map(str, TELEGRAM_PEOPLE)), TWINFORGE_BOT_POLLING_TIMEOUT_S="1",
    )


def final_texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    """Every message in the chat as it reads now, edits applied."""
    return [m.get("text") or m.get("caption", "") for (chat, _), m in fake.messages.items() if chat == chat_id]


def everything_said(fake: FakeTelegram, user: int) -> bool:
    """Whether the person's chat shows every expected message: per avatar the upload's two replies,
    the intake strip and report, and each stage's message edited to done."""
    texts = final_texts(fake, user)
    done = Counter(t for t in texts if t in {say("stage_succeeded", "en", stage=stage_name(s, "en")) for s in STAGES})
    return (
        done == Counter({say("stage_succeeded", "en", stage=stage_name(s, "en")): AVATARS_EACH for s in STAGES})
        and sum(t.startswith("Received your video") for t in texts) == AVATARS_EACH
        and all(any(t.startswith(f"Stored as version 1 of Load {user}-{i}") for t in texts) for i in range(AVATARS_EACH))
        and sum(t.startswith("Frames from your video (version 1)") for t in texts) == AVATARS_EACH
        and sum(t.startswith("Your video passed the check") for t in texts) == AVATARS_EACH
    )


@pytest.mark.timeout(900)
async def test_ten_people_submit_twenty_avatars_at_once(host, runtime, workers, telegram, clip, tmp_path, monkeypatch, reliability):  # noqa: F811
    began = time.monotonic()
    monkeypatch.setenv("TWINFORGE_INTAKE_PRESET", PRESET)
    get_settings.cache_clear()
    runtime.settings = get_settings()
    runtime.flow = PREPROCESSING_FLOW
    async with contextlib.AsyncExitStack() as stack:
        plugins, stub = await plugins_and_workers(stack, tmp_path, host, PLUGINS, workers, register_timeout=120)
        bot = await spawn(stack, tmp_path, "bot", ("-m", "bot.main"), bot_env(telegram))
        memory = Memory({"host (test process)": os.getpid(), "bot": bot.pid, **{f"plugin {s}": p.pid for s, p in plugins.items()},
                         **{f"worker {i}": p.pid for i, p in enumerate(workers.procs)}})
        await asyncio.gather(*(greeted(telegram, user) for user in TELEGRAM_PEOPLE))  # the bot is up and has met everyone
        memory.sample()

        snapshots: list[dict[str, tuple[str, int, int]]] = []
        done = asyncio.Event()

        async def sample() -> None:
            while not done.is_set():
                memory.sample()
                snapshots.append(await asyncio.to_thread(queue_places, runtime))
                await asyncio.sleep(SAMPLE_EVERY_S)

        sampler = asyncio.create_task(sample())
        watches: dict[str, asyncio.Task] = {}
        started = time.monotonic()
        people = await asyncio.gather(*(through_bot(telegram, user, clip) for user in TELEGRAM_PEOPLE),
                                      *(through_grpc(stack, host, owner, clip, watches) for owner in CLI_PEOPLE))
        avatar_ids = [avatar for avatars in people for avatar in avatars]
        count = len(avatar_ids)
        await until(lambda: preprocessed(avatar_ids), 840 - (time.monotonic() - began), f"all {count} avatars were preprocessed")
        through = time.monotonic() - started
        for user in TELEGRAM_PEOPLE:
            await telegram.wait_for(lambda: everything_said(telegram, user), f"person {user} got every message", REPLY_TIMEOUT_S)
        seen = {avatar_id: await asyncio.wait_for(task, 30) for avatar_id, task in watches.items()}
        done.set()
        await sampler
        memory.sample()
    wall = time.monotonic() - began

    runs = runs_of(avatar_ids)
    assert Counter((run.avatar_id, run.stage, run.state) for run in runs) == Counter(
        {(avatar_id, stage, "succeeded"): 1 for avatar_id in avatar_ids for stage in STAGES}), "one successful run per avatar and stage"
    assert all(run.attempt == 1 for run in runs), "no run needed a second attempt"

    # the places reported while the people waited
    for snapshot in snapshots:
        check_snapshot(snapshot)
    history: dict[str, list[int]] = {}
    for snapshot in snapshots:
        for run_id, (_, place, _) in snapshot.items():
            history.setdefault(run_id, []).append(place)
    for run_id, places in history.items():
        assert places == sorted(places, reverse=True), f"run {run_id} moved back in the queue: {places}"
    deepest = max(len(snapshot) for snapshot in snapshots)
    assert deepest >= count, f"the queue never held more than {deepest} runs: no load"

    # the places people were told
    notes = notes_of(avatar_ids)
    told = told_places(notes)
    assert len(told) >= count, "few waiting runs were told their place"
    for run_id, places in told.items():
        assert all(1 <= place <= of for place, of in places), (run_id, places)
        assert [p for p, _ in places] == sorted((p for p, _ in places), reverse=True), f"run {run_id} was told {places}"
        assert all(a != b for a, b in zip(places, places[1:])), f"run {run_id} was told the same place twice: {places}"

    # no notification lost: every avatar's seqs run 1..n, the CLI users saw them live, the bot delivered all
    by_avatar: dict[str, list[int]] = {}
    for note in notes:
        by_avatar.setdefault(note.avatar_id, []).append(note.seq)
    for avatar_id, seqs in by_avatar.items():
        assert seqs == list(range(1, len(seqs) + 1)), avatar_id
    for avatar_id, seqs in seen.items():
        assert seqs == by_avatar[avatar_id][: len(seqs)] and seqs[-1] == by_avatar[avatar_id][-1], avatar_id
    followed = {row.avatar_id: row.last_seq for row in FollowedAvatar.select()}
    for avatar_id in set(avatar_ids) - set(seen):
        assert followed[avatar_id] == by_avatar[avatar_id][-1], f"the bot did not deliver every notification of {avatar_id}"

    # memory
    peaks = ", ".join(f"{name} {mib:.0f}" for name, mib in sorted(memory.peak.items()))
    host_growth, bot_growth = memory.growth("host (test process)"), memory.growth("bot")
    assert host_growth < HOST_GROWTH_MIB, f"the host grew by {host_growth:.0f} MiB; peaks: {peaks}"
    assert bot_growth < BOT_GROWTH_MIB, f"the bot grew by {bot_growth:.0f} MiB; peaks: {peaks}"
    for name, mib in memory.peak.items():
        if name.startswith("worker"):
            assert mib < WORKER_PEAK_MIB, f"{name} peaked at {mib:.0f} MiB"
        if name.startswith("plugin"):
            assert mib < PLUGIN_PEAK_MIB, f"{name} peaked at {mib:.0f} MiB"

    wait = longest_wait_s(notes)
    throughput = count / through * 60
    observed = (f"{throughput:.1f} avatars/min through intake and preprocessing ({count} in {through:.0f} s, {wall:.0f} s wall "
                f"with start-up); longest wait in the queue {wait:.0f} s; deepest queue {deepest}; peak RSS MiB: {peaks}; "
                f"host grew {host_growth:.0f}, bot {bot_growth:.0f}")
    print(observed)
    reliability.record(
        section="load",
        what=(f"{len(TELEGRAM_PEOPLE) + len(CLI_PEOPLE)} people x {count} avatars at once ({len(TELEGRAM_PEOPLE)} through the bot and the "
              f"fake Bot API, {len(CLI_PEOPLE)} through gRPC), {CLIP_SECONDS} s synthetic talking-face clips (preset {PRESET}), {WORKERS} worker processes, 6 plugin processes"),
        expected=(f"every avatar passes intake and the 5 preprocessing stages, first attempt; queue places 1..n once each and never "
                  f"moving back; told places never rising, each tell a change; host growth < {HOST_GROWTH_MIB} MiB, bot < {BOT_GROWTH_MIB}, "
                  f"workers < {WORKER_PEAK_MIB}, plugins < {PLUGIN_PEAK_MIB}; seqs contiguous; every bot message delivered"),
        observed=observed,
        lost="nothing",
    )
