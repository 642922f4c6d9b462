"""SIGKILL of each process of the platform, and a restart of Redis, while a stage runs: the run ends
as an undisturbed run of the same stage on the same inputs does, loses at most one checkpoint
interval of work, leaves no orphaned or duplicated artifact, and its notifications reach the person
once each (WatchNotifications followed across the fault; for the bot, the messages it sent).

Everything is a real process on real services: the host, a queue worker, the real plugin of the
stage (tests/faults/held_plugin.py holds its first attempt part done, so the kill lands there), the
bot against a fake Bot API server, SQLite, Redis (a private redis-server for the Redis restart),
the local blob store. Each test runs its stage twice on one platform: undisturbed, then with the
fault, and compares the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from host.bootstrap import bootstrap
from host.channels import host_channel_aio
from host.settings import Settings, get_settings
from host.storage import models
from host.supervisor import local_keys
from tests.faults import held_plugin
from tests.faults.processes import Processes, child_env, free_port
from tests.integration.test_scheduler import until
from tests.fixtures.fake_telegram import TOKEN, FakeTelegram
from tests.fixtures.media import write_test_video
from tests.fixtures.services import operator_key
from tests.fixtures.tiny_submodels import make_materials, make_training_set
from tests.integration.test_host_flow import wait_registered
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

PERSON = 1001
ENDED = ("stage_succeeded", "stage_failed", "stage_cancelled")
STAGE_OF = {"video_analysis": "intake", "audio_features": "preprocessing", "syncnet": "training", "image_packaging": "packaging"}
# Every stage with each process killed and with Redis restarted.
SCENARIOS = [
    ("worker", "video_analysis"), ("worker", "audio_features"), ("worker", "syncnet"), ("worker", "image_packaging"),
    ("plugin", "video_analysis"), ("plugin", "audio_features"), ("plugin", "syncnet"), ("plugin", "image_packaging"),
    ("host", "video_analysis"), ("host", "audio_features"), ("host", "syncnet"), ("host", "image_packaging"),
    ("redis", "video_analysis"), ("redis", "audio_features"), ("redis", "syncnet"), ("redis", "image_packaging"),
    ("bot", "video_analysis"), ("bot", "audio_features"), ("bot", "syncnet"), ("bot", "image_packaging"),
]
PACKAGING = {"runtime_packages": ["six", "typing_extensions"], "registry": "", "base": "", "round": 1, "submission_version": 1}
PARAMETERS = {"video_analysis": {"preset": "draft"}, "audio_features": {}, "syncnet": {"preset": "draft"}, "image_packaging": PACKAGING}
DETERMINISTIC = {"audio_features", "syncnet"}  # byte-identical outputs on the same inputs


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """A short synthetic clip (the intake check rejects it: no face, too short), and the tiny
    training set made from a larger one whose tone swells and fades."""
    folder = tmp_path_factory.mktemp("fault-media")
    clip = write_test_video(folder / "clip.mp4", seconds=4.0, size=64, beat_hz=1.5)
    larger = write_test_video(folder / "larger.mp4", seconds=8.5, size=256, beat_hz=1.5)
    files = {"video": clip, "training_set": make_training_set(larger, folder), "materials": make_materials(folder)}
    for name in ("syncnet", "audio2lip", "generator", "refiner"):
        files[f"model:{name}"] = folder / f"{name}.pt"
        files[f"model:{name}"].write_bytes(f"{name} weights ".encode() * 400)
    files["cutout"] = folder / "cutout.npz"
    files["cutout"].write_bytes(b"cutout " * 400)
    return files


def inputs_of(stage: str) -> list[str]:
    if stage == "syncnet":
        return ["training_set", "materials"]
    if stage == "image_packaging":
        return [*(f"model:{n}" for n in ("syncnet", "audio2lip", "generator", "refiner")), "video", "training_set", "materials", "cutout"]
    return ["video"]


async def upload(stub, avatar_id: str, name: str, path: Path):
    kind, _, submodel = name.partition(":")

    async def parts():
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind=kind, filename=path.name))
        yield host_pb.UploadArtifactRequest(chunk=path.read_bytes())

    ref = (await stub.UploadArtifact(parts())).artifact
    if submodel:  # what a trainer's model output carries
        ref.metadata_json = json.dumps({"submodel": submodel})
    return ref


@dataclass
class Platform:
    settings: Settings
    procs: Processes
    address: str
    stage: str
    stub: host_grpc.HostServiceStub | None = None
    telegram: FakeTelegram | None = None
    private_redis: Settings | None = None

    @property
    def holds(self) -> Path:
        return self.settings.resolved_data_dir / "holds"

    def held(self, run_id: str) -> bool:
        return (self.holds / f"{run_id}.held").exists()

    def release(self, run_id: str) -> None:
        self.holds.mkdir(parents=True, exist_ok=True)
        (self.holds / f"{run_id}.release").write_text("go")

    async def start_host(self) -> None:
        self.procs.start("host")
        await until(lambda: self.procs.running["host"].poll() is None and port_open(self.address), 30, "the host listens")

    async def start_plugin(self) -> None:
        self.procs.start("plugin")
        await wait_registered(self.stub, self.stage, timeout=60)

    async def submit(self, name: str, media: dict[str, Path]) -> str:
        if self.telegram is not None:  # the person makes the avatar through the bot, which then follows it
            self.telegram.text(PERSON, f"/new {name}")
            await self.telegram.said_containing(PERSON, f"New avatar “{name}”", timeout=30)
            avatar_id = models.Avatar.select().order_by(models.Avatar.created_at.desc()).first().id
        else:
            avatar_id = (await self.stub.CreateAvatar(host_pb.CreateAvatarRequest(name=name, owner="cli:faults"))).avatar.avatar_id
        refs = [await upload(self.stub, avatar_id, item, media[item]) for item in inputs_of(self.stage)]
        request = host_pb.SubmitStageRequest(avatar_id=avatar_id, stage=self.stage, inputs=refs, parameters_json=json.dumps(PARAMETERS[self.stage]))
        return (await self.stub.SubmitStage(request)).run.run_id


def port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) == 0


def run_of(run_id: str) -> models.StageRun:
    return models.StageRun.get_by_id(run_id)


def ended(run_id: str) -> models.StageRun | None:
    run = run_of(run_id)
    return run if run.state in ("succeeded", "failed", "cancelled") else None


async def watched(settings: Settings, address: str, avatar_id: str, seen: list[host_pb.Notification]) -> None:
    """Follows the avatar's notifications from the last one seen, reconnecting when the host goes,
    until its stage run ended; each reply is kept, duplicates included, for the test to count."""
    while not any(n.kind in ENDED for n in seen):
        after = seen[-1].seq if seen else 0
        try:
            async with host_channel_aio(address, settings) as channel:
                stream = host_grpc.HostServiceStub(channel).WatchNotifications(
                    host_pb.WatchNotificationsRequest(avatar_id=avatar_id, after_seq=after), wait_for_ready=True
                )
                async for reply in stream:
                    seen.append(reply.notification)
                    if reply.notification.kind in ENDED:
                        return
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.2)


def outcome(run: models.StageRun) -> dict:
    """What a run ended as, by value: its state, its error's code, its outputs' kinds and names
    (with their bytes' sha256 where the stage is deterministic), packaging's reproducible layers."""
    outputs = json.loads(run.outputs_json or "[]")
    seen = {
        "state": run.state,
        "error": json.loads(run.error_json).get("code") if run.error_json else "",
        "outputs": sorted((o["kind"], o["name"], o["sha256"] if run.stage in DETERMINISTIC else "") for o in outputs),
    }
    if run.stage == "image_packaging":
        (image,) = outputs
        layers = json.loads(image["metadata_json"])["layers"]
        # the code layer is the live working tree, the models layer's bundle.json names the avatar
        seen["layers"] = {layer["name"]: layer["digest"] for layer in layers if layer["name"] not in ("code", "models")}
    if run.stage == "video_analysis" and run.summary_json:
        report = json.loads(run.summary_json)
        seen["measures"] = sorted((m["name"], m["status"]) for m in report["measures"])
    return seen


def artifact_faults(settings: Settings, avatar_id: str) -> list[str]:
    """Blobs of the avatar without an artifact row (orphans), rows without a blob, and outputs
    stored twice under one run (duplicates)."""
    rows = list(models.Artifact.select().where(models.Artifact.avatar == avatar_id))
    root = settings.resolved_data_dir / "blobs"
    stored = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and avatar_id in p.relative_to(root).parts[:-1]}
    stored = {key for key in stored if not key.startswith((".meta", ".tmp"))}
    keys = {row.key for row in rows}
    problems = [f"orphaned blob {key}" for key in sorted(stored - keys)] + [f"missing blob {key}" for key in sorted(keys - stored)]
    names = [(row.run_id, row.kind, row.name) for row in rows if row.run_id]  # uploads are named by kind
    problems += [f"duplicated {name}" for name in sorted(set(names)) if names.count(name) > 1]
    return problems


def notification_faults(seen: list[host_pb.Notification], avatar_id: str) -> list[str]:
    """Gaps or duplicates in what the watcher received, against the avatar's rows."""
    seqs = [n.seq for n in seen]
    rows = [n.seq for n in models.Notification.select().where(models.Notification.avatar == avatar_id).order_by(models.Notification.seq)]
    problems = []
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"received seqs {seqs}")
    if seqs != rows[: len(seqs)]:
        problems.append("received seqs differ from the stored ones")
    if sum(n.kind in ENDED for n in seen) != 1:
        problems.append(f"end notifications: {[n.kind for n in seen if n.kind in ENDED]}")
    return problems


def milestones(run_id: str) -> dict[str, int]:
    """How many of each notification the person gets for a run, progress aside (its count
    follows timing)."""
    counted: dict[str, int] = {}
    for n in models.Notification.select().where(models.Notification.run_id == run_id):
        if n.kind in ("stage_succeeded", "stage_failed", "stage_cancelled", "stage_artifact"):
            payload = json.loads(n.payload_json)
            key = n.kind if n.kind != "stage_artifact" else f"artifact:{payload['kind']}:{payload['name']}"
            counted[key] = counted.get(key, 0) + 1
    return counted


def reported(run_id: str, kind: str) -> list[dict]:
    return [json.loads(n.payload_json) for n in models.Notification.select().where((models.Notification.run_id == run_id) & (models.Notification.kind == kind))]


def recorded_up_to_hold(run_id: str, stage: str) -> bool:
    """Whether the worker has recorded every event the plugin sent before it held: the stream runs
    ahead of the worker's writes, and events still in flight die with a killed worker."""
    if stage == "syncnet":
        return any(m["name"] == "loss" and m["step"] == held_plugin.HOLD_ITERATION for m in reported(run_id, "stage_metric"))
    mark = held_plugin.PACKAGING_HOLD if stage == "image_packaging" else 0.0
    return any(p["fraction"] > mark for p in reported(run_id, "stage_progress"))


@contextlib.asynccontextmanager
async def platform(victim: str, stage: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *plugin_args: str):
    logs = tmp_path / "logs"
    logs.mkdir()
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("TWINFORGE_HOST_ADDRESS", address)
    procs = Processes(logs, {})
    telegram = None
    try:
        if victim == "redis":
            private = Settings(data_dir=settings.resolved_data_dir, redis_url="", private_redis_port=free_port())
            procs.start_redis(private)
            monkeypatch.setenv("TWINFORGE_REDIS_URL", private.resolved_redis_url)
        if victim == "bot":
            telegram = FakeTelegram()
            await telegram.start()
            for key, value in {"BOT_TOKEN": TOKEN, "BOT_API_BASE_URL": telegram.base_url, "BOT_ALLOWLIST": str(PERSON), "BOT_POLLING_TIMEOUT_S": "1"}.items():
                monkeypatch.setenv(f"TWINFORGE_{key}", value)
        get_settings.cache_clear()
        bootstrap(get_settings())  # this test's own view of the database the processes share
        operator_key(get_settings(), monkeypatch)
        current = get_settings()
        procs.env = child_env(current)
        procs.define("host", ["-m", "host.server"])
        procs.define("worker", ["-m", "host.cli", "worker", "--cpu-slot", "0"])
        # a fixed port, as `twinforge up` gives each plugin: restarted, it registers at the same address
        procs.define("plugin", ["-m", "tests.faults.held_plugin", stage, *plugin_args], TWINFORGE_PLUGIN_PORT=str(free_port()))
        if victim == "bot":
            procs.define("bot", ["-m", "bot.main"], TWINFORGE_API_KEY=local_keys(current))  # the bot's service key, as `twinforge up` issues it
        found = Platform(current, procs, address, stage, telegram=telegram, private_redis=private if victim == "redis" else None)
        await found.start_host()
        async with host_channel_aio(address, current) as channel:
            found.stub = host_grpc.HostServiceStub(channel)
            found.procs.start("worker")
            if telegram is not None:
                found.procs.start("bot")
            await found.start_plugin()
            yield found
    finally:
        procs.stop_all()
        if telegram is not None:
            await telegram.stop()


async def fault(victim: str, found: Platform, run_id: str) -> None:
    """The fault, at the hold; then what an operator's supervisor does (`twinforge up` restarts
    a dead child). A worker or plugin killed ends the held attempt; the others let it go on."""
    procs = found.procs
    if victim == "worker":
        procs.kill("worker")
        found.procs.start("worker")
    elif victim == "plugin":
        procs.kill("plugin")
        await found.start_plugin()
    elif victim == "host":
        procs.kill("host")
        found.release(run_id)
        await until(lambda: ended(run_id), 60, "the run ended while the host was down")
        await found.start_host()
    elif victim == "redis":
        procs.restart_redis(found.private_redis)
        found.release(run_id)
    elif victim == "bot":
        procs.kill("bot")
        found.release(run_id)
        await until(lambda: ended(run_id), 60, "the run ended while the bot was down")
        found.procs.start("bot")


def bot_messages(telegram: FakeTelegram, since: int) -> list[tuple[str, str]]:
    """The messages, photos and videos the bot sent the person after the `since`-th, by method
    and first line."""
    said = [(c.method, (c.params.get("text") or c.params.get("caption", "")).split("\n")[0]) for c in telegram.sent(PERSON)[since:]]
    return [(method, text) for method, text in said if not text.startswith("New avatar")]  # names the avatar


def stages_done(telegram: FakeTelegram) -> int:
    """How often the bot marked a stage's message done (an edit of the message it sent when the
    stage was queued)."""
    return sum(c.params.get("text", "").endswith("done ✓") for c in telegram.sent(PERSON, "editMessageText"))


async def bot_finished(telegram: FakeTelegram, since: int, stage: str, done_before: int) -> list[tuple[str, str]]:
    """Waits for the bot's last word on the run (the intake report on the rejected video, or the
    stage's message marked done), then a while longer for anything sent twice."""
    if stage == "video_analysis":
        await telegram.wait_for(
            lambda: any(text.startswith("Your video did not pass") for _, text in bot_messages(telegram, since)), "the bot sent the report", timeout=60
        )
    else:
        await telegram.wait_for(lambda: stages_done(telegram) > done_before, "the bot marked the stage done", timeout=60)
    await asyncio.sleep(1.5)
    return bot_messages(telegram, since)


@pytest.mark.parametrize(("victim", "stage"), SCENARIOS, ids=[f"{v}-{STAGE_OF[s]}" for v, s in SCENARIOS])
async def test_a_killed_process_changes_nothing_but_time(victim, stage, settings, media, tmp_path, monkeypatch, reliability):
    async with platform(victim, stage, settings, tmp_path, monkeypatch) as found:
        baseline_id = await found.submit("Baseline", media)
        found.release(baseline_id)
        baseline = await until(lambda: ended(baseline_id), 90, "the undisturbed run ended")
        if found.telegram is not None:
            undisturbed_said = await bot_finished(found.telegram, 0, stage, 0)
            disturbed_from, done_before = len(found.telegram.sent(PERSON)), stages_done(found.telegram)

        run_id = await found.submit("Disturbed", media)
        avatar_id = run_of(run_id).avatar_id
        seen: list[host_pb.Notification] = []
        watcher = asyncio.create_task(watched(found.settings, found.address, avatar_id, seen))
        await until(lambda: found.held(run_id), 60, "the run reached its hold, part done")
        await until(lambda: recorded_up_to_hold(run_id, stage), 30, "the worker recorded the run's progress up to the hold")
        done_at_kill = max(p["fraction"] for p in reported(run_id, "stage_progress"))
        if found.telegram is not None:
            await found.telegram.wait_for(lambda: len(found.telegram.sent(PERSON)) > disturbed_from, "the bot showed the run")
        await fault(victim, found, run_id)
        disturbed = await until(lambda: ended(run_id), 90, f"the run ended after the {victim} fault")
        await asyncio.wait_for(watcher, 30)
        if found.telegram is not None:
            disturbed_said = await bot_finished(found.telegram, disturbed_from, stage, done_before)

        assert outcome(disturbed) == outcome(baseline)
        assert disturbed.attempt == (2 if victim in ("worker", "plugin") else 1)
        assert artifact_faults(found.settings, avatar_id) == [] and artifact_faults(found.settings, baseline.avatar_id) == []
        assert notification_faults(seen, avatar_id) == []
        assert milestones(run_id) == milestones(baseline_id)
        lost = f"{done_at_kill:.0%} of the stage redone (the killed attempt's progress)" if disturbed.attempt == 2 else "nothing"
        observed = f"run {disturbed.state} ({outcome(disturbed)['error'] or 'no error'}) after {disturbed.attempt} attempt(s), as undisturbed; {len(seen)} notifications watched across the fault, seq 1..{len(seen)}, none twice; no orphaned or duplicated artifact"
        if stage == "syncnet":
            summary = json.loads(disturbed.summary_json)
            checkpoints = [a for a in reported(run_id, "stage_artifact") if a["kind"] == "checkpoint"]
            assert len(checkpoints) == held_plugin.ITERATIONS // held_plugin.CHECKPOINT_EVERY  # attempt 1's one, then the rest
            redone = (held_plugin.HOLD_ITERATION - summary["resumed_from"]) if disturbed.attempt == 2 else 0
            assert redone <= held_plugin.CHECKPOINT_EVERY
            lost = (f"{redone} of {held_plugin.ITERATIONS} iterations redone (checkpoint every {held_plugin.CHECKPOINT_EVERY}; resumed from {summary['resumed_from']})"
                    if disturbed.attempt == 2 else f"nothing: 0 of {held_plugin.ITERATIONS} iterations redone, the attempt never stopped")
            observed += "; model weights byte-identical to the undisturbed run's"
        if found.telegram is not None:
            if stage == "video_analysis":
                assert disturbed_said == undisturbed_said, "the bot's messages differ from an undisturbed run's"
                assert [method for method, _ in disturbed_said] == ["sendMessage", "sendPhoto", "sendMessage"]  # the run, the frames, the report
                observed += f"; the bot sent the person {len(disturbed_said)} messages (the run's, the frames, the report), as undisturbed, none twice"
            else:
                # the training's loss charts are redrawn on a timer, so how many depends on time; texts must match
                texts = [said for said in disturbed_said if said[0] == "sendMessage"]
                assert texts == [said for said in undisturbed_said if said[0] == "sendMessage"], "the bot's messages differ from an undisturbed run's"
                assert stages_done(found.telegram) == done_before + 1, "the bot marked the stage done more than once, or never"
                observed += f"; the bot sent the person {len(texts)} message (the stage's) as undisturbed and marked it done once"
    reliability.record(
        section="faults",
        what=f"SIGKILL {victim} during {STAGE_OF[stage]} ({stage})" if victim != "redis" else f"Redis restart (SIGKILL, AOF) during {STAGE_OF[stage]} ({stage})",
        expected="same final state as an undisturbed run; at most one checkpoint interval lost; no orphaned or duplicated artifact; each notification once",
        observed=observed,
        lost=lost,
    )


async def test_a_checkpoint_stored_but_not_yet_reported_is_resumed_from(settings, media, tmp_path, monkeypatch, reliability):
    """A worker killed while the plugin's events are still on their way: the plugin stored its
    checkpoint at iteration 20, the worker recorded only the one at 10. The next attempt resumes from
    the checkpoint in the blob store (one key per run, replaced by each save), not from the record,
    whose sha256 no longer matches the blob."""
    unsent = held_plugin.UNSENT_CHECKPOINT
    async with platform("worker", "syncnet", settings, tmp_path, monkeypatch, "unsent") as found:
        baseline_id = await found.submit("Baseline", media)
        found.release(baseline_id)
        baseline = await until(lambda: ended(baseline_id), 90, "the undisturbed run ended")
        run_id = await found.submit("Disturbed", media)
        await until(lambda: found.held(run_id), 60, "the plugin stored its second checkpoint")
        await until(lambda: any(m["name"] == "loss" and m["step"] == unsent for m in reported(run_id, "stage_metric")), 30,
                    "the worker recorded everything before the checkpoint's event")
        recorded = [a for a in reported(run_id, "stage_artifact") if a["kind"] == "checkpoint"]
        assert len(recorded) == 1  # the one at iteration 10
        found.procs.kill("worker")
        found.procs.start("worker")
        disturbed = await until(lambda: ended(run_id), 90, "the run ended after the worker was killed")

    summary = json.loads(disturbed.summary_json)
    assert outcome(disturbed) == outcome(baseline) and disturbed.attempt == 2
    assert summary["resumed_from"] == unsent
    assert artifact_faults(found.settings, disturbed.avatar_id) == []
    reliability.record(
        section="faults",
        what="SIGKILL worker during training, its plugin's checkpoint stored but its event not yet recorded",
        expected="the next attempt resumes from the newest stored checkpoint; same model as an undisturbed run",
        observed=f"{len(recorded)} checkpoint recorded before the kill, the plugin had stored {unsent // held_plugin.CHECKPOINT_EVERY}; "
                 f"attempt 2 resumed from iteration {summary['resumed_from']}; model weights byte-identical to the undisturbed run's",
        lost=f"nothing: 0 of {held_plugin.ITERATIONS} iterations redone",
    )
