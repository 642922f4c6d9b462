"""The Telegram bot (bot/) end to end: the real aiogram bot polls a fake Bot API server on loopback
(tests/fixtures/fake_telegram.py) and works against the real host over gRPC. The intake check is
the real video_analysis plugin run by the job function; the evaluation, packaging and deployment
runs are finished through the host's own handlers (as tests/integration/test_deploy_api.py does;
the packaging and deployment plugins are registered so that the host accepts the Deploy), since
training and packaging a model is not what is tested here."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from bot import state
from bot.app import running_bot
from bot.models import ReviewReminder, create_tables
from bot.notifications import CHART_EVERY_S
from bot.settings import BotSettings
from host import deployments, run_finished, use_cases
from host.storage import models
from host.storage.blobs import blob_key
from host.storage.db import database_proxy
from host.auth import issue
from host.cli import main as cli
from host.channels import host_channel_aio
from host.settings import get_settings
from plugins.deployment.server import Deployment
from plugins.image_packaging.server import ImagePackaging
from plugins.interactive_edit.server import InteractiveEdit
from plugins.video_analysis.server import VideoAnalysis
from scheduler import jobs
from scheduler.queues import Resource, enqueue_stage
from tests.fixtures.evaluation import round_summary
from tests.fixtures.fake_telegram import TOKEN, FakeTelegram
from tests.fixtures.media import write_test_video
from tests.fixtures.services import require_samples, start_plugin
from tests.integration.test_deploy_api import finished
from tests.integration.test_host_flow import wait_registered
from tests.integration.test_inference_service import Service, bundle, duration_and_sound, encoded  # noqa: F401 (bundle is a fixture)
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

ANNA, BEN, CAROL = 1001, 1002, 1003
EVALUATION = {"quality_eval"}
TRANSCRIPT = "bot-transcript.txt"


@pytest.fixture
async def telegram():
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()


@contextlib.asynccontextmanager
async def bot(runtime, host: str, telegram: FakeTelegram, chart_every_s: float = CHART_EVERY_S, **overrides):
    values = {"access": "allowlist", "allowlist": f"{ANNA},{BEN}", "polling_timeout_s": 1, "edit_interval_s": 1.0,
              "max_download_mb": 20}  # the fake stands in for api.telegram.org, with its 20 MB limit
    settings = BotSettings(token=SecretStr(TOKEN), api_base_url=telegram.base_url, **{**values, **overrides})
    create_tables(database_proxy.obj)
    _, key = issue("service:bot", "service")  # as `twinforge up` gives the bot
    service = get_settings().model_copy(update={"api_key": SecretStr(key)})
    async with running_bot(settings, host, runtime.settings.max_message_bytes, runtime.settings.upload_chunk_bytes, chart_every_s, service) as running:
        yield running


def avatar_of(user_id: int) -> str:
    return models.Avatar.select().join(models.User).where(models.User.external_id == f"telegram:{user_id}").order_by(models.Avatar.created_at.desc()).first().id


def evaluation_round(runtime, avatar_id: str, tmp_path: Path, passed: bool = True, voice: bool = False) -> None:
    """A finished quality_eval run with a real preview video (and, with `voice`, the avatar
    speaking with an unseen voice): what makes the host send preview_ready."""
    with runtime.uow() as uow:
        run = use_cases.submit_stage(uow, avatar_id, "quality_eval", [], {"preset": "draft"}, EVALUATION, 1)
    outputs = []
    for kind, name in (("preview", "preview.mp4"), *((("voice_preview", "voice_preview.mp4"),) if voice else ())):
        video = write_test_video(tmp_path / f"{kind}-{run.id}.mp4", seconds=1.0)
        key = blob_key(avatar_id, "quality_eval", run.id, name)
        info = runtime.blobs.put_file(key, video)
        metadata = json.dumps({"voice": "espeak-ng, low and slow"}) if kind == "voice_preview" else "{}"
        outputs.append(plugin_pb.ArtifactRef(key=key, kind=kind, name=name, sha256=info.sha256, size=info.size, metadata_json=metadata))
    finished(runtime, run, round_summary(passed), outputs)


def ogg_voice(path: Path) -> bytes:
    """A second of a tone as Telegram sends voice messages: Opus in an OGG container."""
    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000)
        stream.layout = "mono"
        tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(48000) / 48000)).astype(np.float32)
        for start in range(0, 48000, 960):
            frame = av.AudioFrame.from_ndarray(tone[None, start : start + 960], format="flt", layout="mono")
            frame.sample_rate = 48000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path.read_bytes()


def button(call, label: str) -> str:
    """The callback data of the button labelled `label` on a sent message."""
    rows = json.loads(call.params["reply_markup"])["inline_keyboard"]
    return next(b["callback_data"] for row in rows for b in row if b["text"].startswith(label))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def press_answered(telegram: FakeTelegram, words: str, what: str) -> None:
    """Waits until a button press was answered with `words` (a refusal shown as an alert)."""
    await telegram.wait_for(lambda: any(words in c.params.get("text", "") for c in telegram.calls if c.method == "answerCallbackQuery"), what)


async def anna_with_a_preview(runtime, telegram: FakeTelegram, tmp_path: Path):
    """Anna's new avatar with a round ready for review: its id and the preview message."""
    telegram.text(ANNA, "/new Anna")
    await telegram.said_containing(ANNA, "New avatar")
    avatar = avatar_of(ANNA)
    await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)
    return avatar, await telegram.said_containing(ANNA, "ready for review")


async def verdicts(host: str, avatar_id: str) -> list[str]:
    async with host_channel_aio(host, get_settings()) as channel:
        rounds = await host_grpc.HostServiceStub(channel).ListRounds(host_pb.ListRoundsRequest(avatar_id=avatar_id))
    return [r.verdict for r in rounds.rounds]


async def test_a_whole_conversation_from_video_to_live_avatar(host, runtime, telegram, tmp_path):
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        for plugin in (VideoAnalysis(), ImagePackaging(), Deployment()):  # registered; the test finishes the last two's runs
            await start_plugin(plugin, stack)
            await wait_registered(host_grpc.HostServiceStub(channel), plugin.stages[0])
        running = await stack.enter_async_context(bot(runtime, host, telegram))
        telegram.text(ANNA, "/start")
        await telegram.said_containing(ANNA, "1 to 5 minutes")
        telegram.text(ANNA, "/new Anna")
        await telegram.said_containing(ANNA, "New avatar “Anna”")
        avatar = avatar_of(ANNA)

        telegram.document(ANNA, "notes.txt", b"hello", mime="text/plain")
        await telegram.said_containing(ANNA, "“notes.txt” is not one of those")
        telegram.document(ANNA, "../../etc/me.mp4", write_test_video(tmp_path / "me.mp4", seconds=2.0).read_bytes())
        asked = await telegram.said_containing(ANNA, "Your video waits until you do")
        assert "biometric data" in asked.params["text"] and "/delete removes an avatar" in asked.params["text"]
        assert not [c for c in telegram.calls if c.method == "getFile"], "a video is fetched only once the person agreed"
        telegram.press(ANNA, button(asked, "I agree"), "I agree")
        await telegram.said_containing(ANNA, "Received your video")
        await telegram.said_containing(ANNA, "Stored as version 1")
        (run,) = [r for r in models.StageRun.select().where(models.StageRun.avatar == avatar)]
        assert await asyncio.to_thread(jobs.run_stage, run.id) == "failed"
        report = await telegram.said_containing(ANNA, "did not pass the check")
        text = report.params["text"]
        assert "❌ duration: 2.0 s" in text and "→ " in text and "next version" in text
        strip = await telegram.said_containing(ANNA, "Frames from your video (version 1)")
        assert strip.method == "sendPhoto" and telegram.calls.index(strip) < telegram.calls.index(report)
        frames = cv2.imdecode(np.frombuffer(strip.files["photo"], np.uint8), cv2.IMREAD_COLOR)
        assert frames.shape == (240, 5 * 240 + 4 * 4, 3)  # five 64x64 frames scaled to 240 px, side by side
        assert models.Submission.get(models.Submission.avatar == avatar).filename == "me.mp4"

        await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path, True, True)
        preview = await telegram.said_containing(ANNA, "ready for review")
        assert preview.method == "sendVideo" and len(preview.files["video"]) > 1000 and "✅ The lips follow the voice." in preview.params["caption"]
        assert "The video passes all 11 checks" in preview.params["caption"] and "sync_" not in preview.params["caption"]
        voiced = await telegram.said_containing(ANNA, "Your avatar with another voice (espeak-ng, low and slow)")
        assert voiced.method == "sendVideo" and len(voiced.files["video"]) > 1000
        assert telegram.calls.index(voiced) < telegram.calls.index(preview)  # the buttons stay on the last message
        telegram.press(ANNA, button(preview, "Reject"), "Reject ✗")
        reasons = await telegram.said_containing(ANNA, "What is wrong?")
        assert [b["text"] for row in json.loads(reasons.params["reply_markup"])["inline_keyboard"] for b in row] == [
            "Lips are off", "Mouth is blurry", "It jitters", "Wrong clip", "Something else", "↩ Back"]
        assert telegram.carrying(button(preview, "Approve")) is None, "the preview's buttons are taken off once one is pressed"
        telegram.press(ANNA, button(reasons, "Something else"), "Something else")
        await telegram.said_containing(ANNA, "In a few words")
        telegram.text(ANNA, "the teeth look grey")
        await telegram.said_containing(ANNA, "Your words go to the operator")
        assert await verdicts(host, avatar) == ["rejected"]

        await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)
        second = await telegram.wait_for(lambda: [c for c in telegram.sent(ANNA, "sendVideo")][2:], "the second preview")
        telegram.press(ANNA, button(second[0], "Approve"), "Approve ✓")
        approved = await telegram.said_containing(ANNA, "Approved ✓")
        telegram.press(ANNA, button(approved, "Deploy"), "Deploy 🚀")
        await telegram.said_containing(ANNA, "Building your avatar's service…")
        packaging = await telegram.wait_for(
            lambda: models.StageRun.get_or_none((models.StageRun.avatar == avatar) & (models.StageRun.stage == deployments.PACKAGING)), "the packaging run")
        await telegram.said_containing(ANNA, "Building your avatar's service: waiting")
        image = plugin_pb.ArtifactRef(key=f"avatars/{avatar}/image_packaging/{packaging.id}/image.oci.tar", kind="image", name="image.oci.tar",
                                      sha256="0" * 64, size=1)
        await asyncio.to_thread(finished, runtime, packaging, {"image": {"digest": "sha256:" + "1" * 64}}, [image])
        deployment = await telegram.wait_for(
            lambda: models.StageRun.get_or_none((models.StageRun.avatar == avatar) & (models.StageRun.stage == deployments.DEPLOYMENT)), "the deployment run")
        address = f"127.0.0.1:{closed_port()}"
        await asyncio.to_thread(finished, runtime, deployment, {"endpoint": {"target": "local", "grpc_address": address, "http_address": ""}})
        await telegram.said_containing(ANNA, "Your avatar is live!")

        telegram.text(ANNA, "Hello, this is my twin speaking.")
        await telegram.said_containing(ANNA, "Your avatar is speaking")
        failed = await telegram.said_containing(ANNA, "I could not make this video")
        assert "your avatar's service is not answering" in failed.params["text"] and address not in failed.params["text"]

        telegram.voice(ANNA, ogg_voice(tmp_path / "voice.ogg"))
        await telegram.wait_for(lambda: sum("I could not make this video" in t for t in telegram.said(ANNA)) == 2, "the voice message tried")
        assert [c for c in telegram.calls if c.method == "getFile"][-1].status == 200

        telegram.text(ANNA, "/avatars")
        listed = await telegram.said_containing(ANNA, "Your avatars")
        assert "▶ Anna: Starting your avatar's service done" in listed.params["text"]
        assert not any(avatar in text for text in telegram.said(ANNA))  # no id in anything the person reads

        telegram.text(ANNA, "/delete")
        asked = await telegram.said_containing(ANNA, "This cannot be undone")
        telegram.press(ANNA, button(asked, "Delete everything"), "Delete everything")
        await telegram.said_containing(ANNA, "Anna is live: stopping it first")
        stop = await telegram.wait_for(lambda: models.StageRun.get_or_none(
            (models.StageRun.avatar == avatar) & (models.StageRun.stage == deployments.DEPLOYMENT) & (models.StageRun.id != deployment.id)), "the undeploy run")
        assert json.loads(stop.parameters_json)["action"] == "undeploy"
        await asyncio.to_thread(finished, runtime, stop, {"stopped": {}})
        await telegram.said_containing(ANNA, "Anna and all its data are deleted")
        assert models.Avatar.get_or_none(models.Avatar.id == avatar) is None
        await running.pacer.drain()

    edits = [c.at for c in telegram.calls if c.method == "editMessageText" and c.params["chat_id"] == str(ANNA)]
    assert all(b - a >= 0.99 for a, b in zip(edits, edits[1:])), "two edits in one chat less than a second apart"
    (tmp_path / TRANSCRIPT).write_text(telegram.transcript())
    print(f"transcript: {tmp_path / TRANSCRIPT}")


async def test_people_act_only_on_their_own_avatars(host, runtime, telegram, tmp_path):
    async with bot(runtime, host, telegram):
        avatar, preview = await anna_with_a_preview(runtime, telegram, tmp_path)

        telegram.press(BEN, button(preview, "Approve"), "Anna's Approve, crafted by Ben")
        await press_answered(telegram, "meant for someone else", "Ben's press refused")
        telegram.press(BEN, "t:forged-token-123", "a forged token")
        await press_answered(telegram, "expired", "the forged press refused")
        assert await verdicts(host, avatar) == [""]
        telegram.text(BEN, "/avatars")
        await telegram.said_containing(BEN, "You have no avatar yet")
        assert not any(avatar in text for text in telegram.said(BEN))

        telegram.text(CAROL, "/start")
        await telegram.said_containing(CAROL, f"add your Telegram id {CAROL}")
        assert len(telegram.said(CAROL)) == 1

        telegram.document(ANNA, "long.mp4", b"", size=25 * 1024 * 1024)
        too_big = await telegram.said_containing(ANNA, "Telegram only lets bots fetch files up to 20.0 MB")
        assert "shorter or more compressed" in too_big.params["text"]
        assert not [c for c in telegram.calls if c.method == "getFile"]


def said_count(telegram: FakeTelegram, chat_id: int, words: str) -> int:
    return sum(words in text for text in telegram.said(chat_id))


def alerts(telegram: FakeTelegram, words: str) -> int:
    return sum(words in c.params.get("text", "") for c in telegram.calls if c.method == "answerCallbackQuery")


async def test_a_button_acts_once_and_one_of_a_round_that_moved_on_changes_nothing(host, runtime, telegram, tmp_path):
    async with bot(runtime, host, telegram):
        avatar, first = await anna_with_a_preview(runtime, telegram, tmp_path)
        await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)
        second = (await telegram.wait_for(lambda: telegram.sent(ANNA, "sendVideo")[1:], "the second round's preview"))[0]

        telegram.press(ANNA, button(first, "Approve"), "Approve ✓ of the first round")
        await press_answered(telegram, "This preview no longer waits for your answer", "the older round's button answered as stale")
        await telegram.wait_for(lambda: telegram.carrying(button(first, "Reject")) is None, "the stale buttons taken off")
        assert await verdicts(host, avatar) == ["", ""]

        telegram.press(ANNA, button(second, "Reject"), "Reject ✗")
        reasons = await telegram.said_containing(ANNA, "What is wrong?")
        telegram.press(ANNA, button(reasons, "↩ Back"), "↩ Back")
        back = await telegram.wait_for(lambda: next((c for c in telegram.sent(ANNA, "editMessageText") if "reply_markup" in c.params), None),
                                       "the verdict's buttons again, where the reasons were")
        assert back.params["text"] == "Does it look right?" and back.params["message_id"] == str(reasons.result["message_id"])
        approve = button(back, "Approve")
        tapped = telegram.carrying(approve)
        telegram.press(ANNA, approve, "Approve ✓", message=tapped)
        telegram.press(ANNA, approve, "Approve ✓ again, a double tap", message=tapped)
        approved = await telegram.said_containing(ANNA, "Approved ✓")
        await press_answered(telegram, "You already pressed a button on this message", "the second tap answered")
        await asyncio.sleep(0.5)
        assert said_count(telegram, ANNA, "Approved ✓") == 1 and not said_count(telegram, ANNA, "That did not work")
        assert await verdicts(host, avatar) == ["", "approved"]
        assert json.loads(approved.params["reply_markup"])["inline_keyboard"][0][0]["text"] == "Deploy 🚀"

        await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)
        third = (await telegram.wait_for(lambda: telegram.sent(ANNA, "sendVideo")[2:], "the third round's preview"))[0]
        telegram.press(ANNA, button(approved, "Deploy"), "Deploy 🚀 of the approved round")
        await press_answered(telegram, "This preview no longer waits for your answer", "Deploy of an older round answered as stale")
        telegram.press(ANNA, button(third, "Reject"), "Reject ✗")
        reasons = await telegram.wait_for(lambda: [c for c in telegram.sent(ANNA) if c.params.get("text") == "What is wrong?"][1:], "the reasons")
        telegram.press(ANNA, button(reasons[0], "Something else"), "Something else")
        await telegram.said_containing(ANNA, "In a few words")
        await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)  # a newer round comes while the person types
        await telegram.wait_for(lambda: telegram.sent(ANNA, "sendVideo")[3:], "the fourth round's preview")
        telegram.text(ANNA, "the teeth look grey")
        await telegram.said_containing(ANNA, "This preview no longer waits for your answer")
        assert await verdicts(host, avatar) == ["", "approved", "", ""]
        assert not models.StageRun.select().where((models.StageRun.avatar == avatar) & (models.StageRun.stage == deployments.PACKAGING)).exists()
    (tmp_path / TRANSCRIPT).write_text(telegram.transcript())
    print(f"transcript: {tmp_path / TRANSCRIPT}")


async def test_a_preview_that_waits_is_reminded_across_a_restart_at_most_so_often_and_not_once_answered_or_deleted(host, runtime, telegram, tmp_path):
    remind = {"review_remind_after_s": 2.0, "review_reminders": 2}
    waiting = "is waiting for you: its preview is ready"
    async with bot(runtime, host, telegram, **remind):
        avatar, _ = await anna_with_a_preview(runtime, telegram, tmp_path)
        telegram.text(BEN, "/new Ben")
        await telegram.said_containing(BEN, "New avatar")
        bens = avatar_of(BEN)
        await asyncio.to_thread(evaluation_round, runtime, bens, tmp_path, False)
        await telegram.said_containing(BEN, "did not reach its limits")
    assert not said_count(telegram, ANNA, waiting), "the bot stopped before the first reminder was due"
    async with host_channel_aio(host, get_settings()) as channel:  # Ben's avatar deleted elsewhere while the bot is down
        deleted = await host_grpc.HostServiceStub(channel).DeleteAvatar(host_pb.DeleteAvatarRequest(avatar_id=bens, by="cli:operator"))
    assert deleted.deleted

    async with bot(runtime, host, telegram, **remind):
        first = await telegram.said_containing(ANNA, waiting)
        assert first.params["text"].startswith("Anna is waiting for you")
        await telegram.wait_for(lambda: said_count(telegram, ANNA, waiting) == 2, "the second reminder")
        await asyncio.sleep(5.0)
        assert said_count(telegram, ANNA, waiting) == 2, "at most TWINFORGE_REVIEW_REMINDERS reminders of one preview"
        assert not said_count(telegram, BEN, "is waiting for you"), "no reminder of a deleted avatar"

        last = [c for c in telegram.sent(ANNA) if waiting in c.params.get("text", "")][-1]
        telegram.press(ANNA, button(last, "Approve"), "Approve ✓ under the reminder")
        await telegram.said_containing(ANNA, "Approved ✓")
        await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)
        await telegram.wait_for(lambda: telegram.sent(ANNA, "sendVideo")[1:], "the second round's preview")
        async with host_channel_aio(host, get_settings()) as channel:  # answered elsewhere (the web app, the CLI)
            await host_grpc.HostServiceStub(channel).RejectAvatar(host_pb.RejectAvatarRequest(avatar_id=avatar, by=f"telegram:{ANNA}", reason="wrong_clip"))
        await asyncio.sleep(5.0)
        assert said_count(telegram, ANNA, waiting) == 2, "no reminder of a round that was answered"
    assert await verdicts(host, avatar) == ["approved", "rejected"]
    assert [r.avatar_id for r in ReviewReminder.select()] == [], "nothing left to remind of"
    assert state.followed_avatar(bens) is None, "a deleted avatar is no longer followed"


async def test_words_for_something_else_reach_the_operator_whose_answer_gives_the_round_back(host, runtime, telegram, tmp_path):
    """The operator answers with `twinforge tasks` (the CLI, with the operator key `twinforge up`
    leaves): the person reads the answer in their chat, with the verdict's buttons again."""
    async with bot(runtime, host, telegram, review_remind_after_s=600.0):
        avatar, preview = await anna_with_a_preview(runtime, telegram, tmp_path)
        telegram.press(ANNA, button(preview, "Reject"), "Reject ✗")
        reasons = await telegram.said_containing(ANNA, "What is wrong?")
        telegram.press(ANNA, button(reasons, "Something else"), "Something else")
        await telegram.said_containing(ANNA, "In a few words")
        telegram.text(ANNA, "the teeth look grey")
        told = await telegram.said_containing(ANNA, "Your words go to the operator")
        assert "They will answer you here" in told.params["text"]
        assert await verdicts(host, avatar) == ["rejected"] and not ReviewReminder.select().exists()

        listed = await asyncio.to_thread(CliRunner().invoke, cli, ["tasks", "ls", "--json"])
        assert listed.exit_code == 0, listed.output
        (task,) = json.loads(listed.output)["tasks"]
        assert (task["avatar"], task["owner"], task["text"], task["outcome"]) == (avatar, f"telegram:{ANNA}", "the teeth look grey", "")
        words = "The grey comes from the light in your video, which training keeps. Approve it if it will do, or send a video in daylight."
        answered = await asyncio.to_thread(CliRunner().invoke, cli, ["tasks", "answer", task["task"], "--text", words, "--by", "cli:olga"])
        assert answered.exit_code == 0 and "the round is given back to the person" in answered.output, answered.output

        back = await telegram.said_containing(ANNA, "The operator read what you said about Anna")
        assert back.params["text"] == f"The operator read what you said about Anna (“the teeth look grey”) and answered:\n{words}\n\n" \
                                      "The preview is back for you to decide:"
        assert [b["text"] for b in json.loads(back.params["reply_markup"])["inline_keyboard"][0]] == ["Approve ✓", "Reject ✗"]
        assert [r.avatar_id for r in ReviewReminder.select()] == [avatar], "the round given back is reminded of again"
        assert await verdicts(host, avatar) == [""]
        telegram.press(ANNA, button(back, "Approve"), "Approve ✓")
        await telegram.said_containing(ANNA, "Approved ✓")
        assert await verdicts(host, avatar) == ["approved"]
        again = await asyncio.to_thread(CliRunner().invoke, cli, ["tasks", "answer", task["task"], "--text", "and once more"])
        assert again.exit_code == 1 and "was answered by cli:olga already" in again.output
        assert not any(avatar in text or "twinforge" in text for text in telegram.said(ANNA))


async def test_privacy_is_stated_and_agreed_once_and_a_video_sent_first_waits_for_it(host, runtime, telegram, tmp_path, monkeypatch):
    monkeypatch.setenv("TWINFORGE_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(VideoAnalysis(), stack)  # a submission needs a plugin for its first stage
        await wait_registered(host_grpc.HostServiceStub(channel), "video_analysis")
        await stack.enter_async_context(bot(runtime, host, telegram))
        telegram.text(ANNA, "/privacy")
        statement = await telegram.said_containing(ANNA, "What I keep of you")
        assert "left unused for 30 days is deleted" in statement.params["text"] and "before you send your video" in statement.params["text"]
        telegram.press(BEN, button(statement, "I agree"), "Anna's consent, pressed by Ben")
        await press_answered(telegram, "meant for someone else", "Ben cannot agree for Anna")
        assert state.agreed_at(ANNA) is None and state.agreed_at(BEN) is None

        telegram.document(ANNA, "first.mp4", write_test_video(tmp_path / "first.mp4", seconds=2.0).read_bytes())
        telegram.document(ANNA, "second.mp4", write_test_video(tmp_path / "second.mp4", seconds=3.0).read_bytes())

        def waiting() -> list:
            return [c for c in telegram.sent(ANNA) if "waits until you do" in c.params.get("text", "")]

        await telegram.said_containing(ANNA, "I keep only your latest video until you agree")
        (asked,) = waiting()  # the statement once, not for every video
        assert not [c for c in telegram.calls if c.method == "getFile"] and models.Submission.select().count() == 0
        telegram.press(ANNA, button(asked, "I agree"), "I agree")
        await telegram.said_containing(ANNA, "Stored as version 1")
        assert [s.filename for s in models.Submission.select()] == ["second.mp4"]  # the latest video waited, once
        assert state.agreed_at(ANNA) is not None

        telegram.text(ANNA, "/privacy")
        agreed = await telegram.said_containing(ANNA, "You agreed to this on")
        assert "reply_markup" not in agreed.params
        telegram.press(ANNA, button(asked, "I agree"), "the same I agree, pressed again")
        await press_answered(telegram, "You already pressed a button on this message", "the second press answered, not done")
        assert sum(c.params.get("text") == "Thank you." for c in telegram.sent(ANNA)) == 1
        assert models.Submission.select().count() == 1, "agreeing again stores nothing more"


async def test_a_video_sent_to_an_avatar_in_production_is_stored_only_as_the_person_chooses(host, runtime, telegram, tmp_path):
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(VideoAnalysis(), stack)
        await wait_registered(host_grpc.HostServiceStub(channel), "video_analysis")
        await stack.enter_async_context(bot(runtime, host, telegram))
        anna, _ = await anna_with_a_preview(runtime, telegram, tmp_path)
        state.agree(ANNA)
        clip = write_test_video(tmp_path / "again.mp4", seconds=2.0).read_bytes()
        stored = models.Submission.select().count()

        def asked(count: int):
            found = [c for c in telegram.sent(ANNA) if "Make Anna again from this new one" in c.params.get("text", "")]
            return len(found) == count and found[-1]

        telegram.document(ANNA, "again.mp4", clip)
        first = await telegram.wait_for(lambda: asked(1), "the bot asks what to do with the video")
        assert not [c for c in telegram.calls if c.method == "getFile"] and models.Submission.select().count() == stored
        telegram.press(ANNA, button(first, "Keep Anna as it is"), "Keep Anna as it is")
        await telegram.said_containing(ANNA, "the new video was not stored")
        assert telegram.carrying(button(first, "Make Anna again")) is None, "the question's buttons are taken off once answered"
        telegram.press(ANNA, button(first, "Make Anna again"), "a button of a question already answered")
        await press_answered(telegram, "You already pressed a button on this message", "the answered question's button refused")
        assert models.Submission.select().count() == stored

        telegram.document(ANNA, "again.mp4", clip)
        second = await telegram.wait_for(lambda: asked(2), "asked again for the next video")
        telegram.press(ANNA, button(second, "Make Anna again"), "Make Anna again")
        await telegram.said_containing(ANNA, "of Anna. The check starts now")
        assert models.Submission.select().where(models.Submission.avatar == anna).count() == 1 + (stored > 0)

        telegram.document(ANNA, "new.mp4", clip)
        third = await telegram.wait_for(lambda: asked(3), "asked for a third video")
        telegram.press(ANNA, button(third, "Start a new avatar"), "Start a new avatar")
        await telegram.said_containing(ANNA, "Stored as version 1 of My avatar")
        assert avatar_of(ANNA) != anna and state.user(ANNA).current_avatar == avatar_of(ANNA)


async def test_invite_codes_admit_a_person(host, runtime, telegram):
    async with bot(runtime, host, telegram, access="invite", invite_codes="spring-42"):
        telegram.text(CAROL, "/help")
        await telegram.said_containing(CAROL, "needs an invite code")
        telegram.text(CAROL, "/start autumn")
        await telegram.said_containing(CAROL, "not valid")
        telegram.text(CAROL, "/start spring-42")
        await telegram.said_containing(CAROL, "Welcome")
        await telegram.said_containing(CAROL, "1 to 5 minutes")
        telegram.text(CAROL, "/help")
        await telegram.said_containing(CAROL, "/new [name]")


async def test_a_restart_keeps_the_conversation_and_delivers_what_came_meanwhile_once(host, runtime, telegram, tmp_path):
    async with bot(runtime, host, telegram):
        avatar, preview = await anna_with_a_preview(runtime, telegram, tmp_path)
        telegram.press(ANNA, button(preview, "Reject"))
        reasons = await telegram.said_containing(ANNA, "What is wrong?")
        telegram.press(ANNA, button(reasons, "Something else"))
        await telegram.said_containing(ANNA, "In a few words")

    async with bot(runtime, host, telegram):  # the question asked before the restart is still open
        telegram.text(ANNA, "the teeth look grey")
        await telegram.said_containing(ANNA, "Your words go to the operator")
    assert await verdicts(host, avatar) == ["rejected"]

    await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)  # while the bot is down
    async with bot(runtime, host, telegram):
        await telegram.wait_for(lambda: len(telegram.sent(ANNA, "sendVideo")) == 2, "the preview that came while the bot was down")
        await asyncio.sleep(1.5)
    assert len(telegram.sent(ANNA, "sendVideo")) == 2
    assert sum("Testing your avatar: waiting" in text for text in telegram.said(ANNA)) == 2  # one stage message per round
    assert sum("New avatar" in text for text in telegram.said(ANNA)) == 1


async def test_avatars_of_the_same_name_are_told_apart_by_a_number_and_no_id_reaches_the_chat(host, runtime, telegram):
    async with bot(runtime, host, telegram):
        telegram.text(ANNA, "/new Anna")
        await telegram.said_containing(ANNA, "New avatar “Anna”.")
        first = avatar_of(ANNA)
        telegram.text(ANNA, "/new Anna")
        await telegram.said_containing(ANNA, "New avatar “Anna 2”.")
        telegram.text(ANNA, "/avatars")
        listed = await telegram.said_containing(ANNA, "Your avatars")
        assert "• Anna: " in listed.params["text"] and "▶ Anna 2: " in listed.params["text"]
        telegram.text(ANNA, "/status")
        await telegram.said_containing(ANNA, "Anna 2 is waiting for a video.")
    assert not any(first in text or avatar_of(ANNA) in text for text in telegram.said(ANNA))


async def test_flood_control_is_obeyed(host, runtime, telegram):
    telegram.too_many["sendMessage"] = 1
    async with bot(runtime, host, telegram) as running:
        telegram.text(ANNA, "/new Anna")
        await telegram.said_containing(ANNA, "New avatar")
        refused, accepted = [c for c in telegram.calls if c.method == "sendMessage"][:2]
        assert refused.status == 429 and accepted.status == 200 and accepted.at - refused.at >= telegram.retry_after

        avatar = avatar_of(ANNA)
        with runtime.uow() as uow:
            run = use_cases.submit_stage(uow, avatar, "quality_eval", [], {}, EVALUATION, 0)
        with runtime.uow() as uow:
            use_cases.start_run(uow, run.id)
        for step in range(1, 31):
            with runtime.uow() as uow:
                use_cases.record_progress(uow, run, plugin_pb.Progress(fraction=step / 30, message=f"clip {step} of 30", eta_seconds=90 - 3 * step))
            await asyncio.sleep(0.05)
        await telegram.said_containing(ANNA, "Testing your avatar: waiting")
        await telegram.wait_for(lambda: any("clip 30 of 30" in c.params["text"] for c in telegram.sent(ANNA, "editMessageText")),
                                "the newest progress shown")
        await running.pacer.drain()
    edits = telegram.sent(ANNA, "editMessageText")
    assert 2 <= len(edits) <= 5, f"{len(edits)} edits for 31 notifications in about 2 s"
    assert all(b.at - a.at >= 0.99 for a, b in zip(edits, edits[1:]))
    assert "██████████ 100%" in edits[-1].params["text"]


@pytest.mark.samples
async def test_a_live_avatar_answers_text_and_voice_with_video(host, runtime, telegram, tmp_path, bundle):
    """The real inference service (a tiny model trained on a sample, tests/integration/test_inference_service.py)
    as the deployment reports it: a voice message and a text come back as MP4s of the avatar."""
    service = await asyncio.to_thread(Service, bundle, tmp_path)
    try:
        async with bot(runtime, host, telegram):
            telegram.text(ANNA, "/new Anna")
            await telegram.said_containing(ANNA, "New avatar")
            avatar = avatar_of(ANNA)
            with runtime.uow() as uow:
                run = use_cases.submit_stage(uow, avatar, deployments.DEPLOYMENT, [], {"target": "local"}, {deployments.DEPLOYMENT}, 0)
            await asyncio.to_thread(finished, runtime, run, {"endpoint": {"target": "local", "grpc_address": service.grpc, "http_address": ""}})
            await telegram.said_containing(ANNA, "Your avatar is live!")
            wav = require_samples() / "drive_speech_5s_a.wav"
            telegram.voice(ANNA, encoded(wav, "libopus", "ogg", 48000, tmp_path / "voice.ogg").read_bytes())
            spoken = await telegram.said_containing(ANNA, "s of video", timeout=120)
            telegram.text(ANNA, "Hello, I am glad to meet you.")
            await telegram.wait_for(lambda: len(telegram.sent(ANNA, "sendVideo")) == 2, "the text rendered", timeout=120)
            assert "in your own voice" not in spoken.params["caption"]
            assert "not yours" in telegram.sent(ANNA, "sendVideo")[1].params["caption"]  # typed text: a stranger's voice, said so
        for video in telegram.sent(ANNA, "sendVideo"):
            seconds, frames, has_sound = duration_and_sound(video.files["video"])
            assert has_sound and frames > 10 and seconds > 0.5
        assert abs(duration_and_sound(spoken.files["video"])[0] - 5.0) < 0.5
    finally:
        await asyncio.to_thread(service.stop)


def stored(runtime, avatar_id: str, run_id: str, stage: str, kind: str, name: str, path: Path) -> plugin_pb.ArtifactRef:
    key = blob_key(avatar_id, stage, run_id, name)
    info = runtime.blobs.put_file(key, path)
    return plugin_pb.ArtifactRef(key=key, kind=kind, name=name, sha256=info.sha256, size=info.size)


def material_version(runtime, run, tmp_path: Path, summary: dict) -> None:
    """Finishes a cutout or interactive_edit run with a whole version: a real preview video, and
    small stand-ins for the files the bot never opens."""
    blob = tmp_path / f"{run.id}.bin"
    blob.write_bytes(b"x")
    files = [stored(runtime, run.avatar_id, run.id, run.stage, kind, name, blob)
             for kind, name in (("cutout", "cutout.npz"), ("materials", "materials.json"), ("cutout_frames", "cutout_frames.zip"))]
    preview = write_test_video(tmp_path / f"{run.id}.mp4", seconds=1.0)
    files.append(stored(runtime, run.avatar_id, run.id, run.stage, "cutout_preview", "cutout_preview.mp4", preview))
    finished(runtime, run, summary, files)


def first_cutout(runtime, avatar_id: str, tmp_path: Path, offered: dict) -> None:
    """A finished cutout run (version 1) offering `offered` (regions, background colours), made from
    stand-ins for the avatar's own video, matte, training set and materials."""
    blob = tmp_path / "source.bin"
    blob.write_bytes(b"x")
    with runtime.uow() as uow:
        source = use_cases.submit_stage(uow, avatar_id, "sources", [], {}, {"sources"}, 0)
    sources = [stored(runtime, avatar_id, source.id, "sources", kind, f"{kind}.bin", blob) for kind in ("video", "matte", "training_set", "materials")]
    finished(runtime, source, {}, sources)
    with runtime.uow() as uow:
        cut = use_cases.submit_stage(uow, avatar_id, "cutout", sources, {}, {"cutout"}, 0)
    material_version(runtime, cut, tmp_path, {"version": 1, **offered, "edit": {"version": 1, "by": "twinforge", "operation": "cutout", "parameters": {}}})


def newest_edit(avatar_id: str) -> models.StageRun:
    return models.StageRun.select().where((models.StageRun.avatar == avatar_id) & (models.StageRun.stage == "interactive_edit")).order_by(
        models.StageRun.created_at.desc()).first()


async def test_the_cut_out_is_edited_with_buttons_and_undone(host, runtime, telegram, tmp_path):
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(InteractiveEdit(), stack)
        await wait_registered(host_grpc.HostServiceStub(channel), "interactive_edit")
        await stack.enter_async_context(bot(runtime, host, telegram))
        telegram.text(ANNA, "/new Anna")
        await telegram.said_containing(ANNA, "New avatar")
        avatar = avatar_of(ANNA)
        regions = [{"id": "r1", "point": [10, 60], "box": [0, 50, 30, 64], "area": 0.09, "contact": 0.25}]
        await asyncio.to_thread(first_cutout, runtime, avatar, tmp_path, {"regions": regions})
        first = await telegram.said_containing(ANNA, "Your cut-out, version 1")
        assert first.method == "sendVideo" and len(first.files["video"]) > 1000
        labels = [b["text"] for row in json.loads(first.params["reply_markup"])["inline_keyboard"] for b in row]
        assert labels == ["Keep r1", "Remove r1", "Despill less"]

        telegram.press(ANNA, button(first, "Remove r1"), "Remove r1")
        await telegram.said_containing(ANNA, "Making version 2")
        edit = models.StageRun.get((models.StageRun.avatar == avatar) & (models.StageRun.stage == "interactive_edit"))
        assert {k: v for k, v in json.loads(edit.parameters_json).items() if k != "version"} == {
            "operation": "region", "action": "remove", "region": "r1", "by": f"telegram:{ANNA}"}
        await asyncio.to_thread(material_version, runtime, edit, tmp_path, {"version": 2, "edit": {
            "version": 2, "by": f"telegram:{ANNA}", "operation": "region", "parameters": {"action": "remove", "region": "r1"},
            "based_on": 1, "words": "removed region r1"}})
        second = await telegram.said_containing(ANNA, "Your cut-out, version 2 (removed region r1)")
        telegram.press(ANNA, button(second, "Undo"), "Undo ↩")
        await telegram.said_containing(ANNA, "Making version 3")
        undo = newest_edit(avatar)
        assert json.loads(undo.parameters_json)["operation"] == "revert" and json.loads(undo.parameters_json)["to_version"] == 1


async def test_a_background_colour_is_keyed_out_and_a_photo_becomes_the_background(host, runtime, telegram, tmp_path):
    green, wall = [63, 163, 77], [128, 128, 128]
    picture = cv2.imencode(".jpg", np.full((240, 320, 3), (200, 120, 40), np.uint8))[1].tobytes()
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(InteractiveEdit(), stack)
        await wait_registered(host_grpc.HostServiceStub(channel), "interactive_edit")
        await stack.enter_async_context(bot(runtime, host, telegram))
        telegram.text(ANNA, "/new Anna")
        await telegram.said_containing(ANNA, "New avatar")
        avatar = avatar_of(ANNA)
        telegram.photo(ANNA, picture)
        await telegram.said_containing(ANNA, "once your cut-out is shown")

        await asyncio.to_thread(first_cutout, runtime, avatar, tmp_path, {"regions": [], "background_colours": [green, wall]})
        first = await telegram.said_containing(ANNA, "Your cut-out, version 1")
        labels = [b["text"] for row in json.loads(first.params["reply_markup"])["inline_keyboard"] for b in row]
        assert labels == ["🟩 Key out #3fa34d", "⬜ Key out #808080", "Despill less"]
        telegram.press(BEN, button(first, "🟩"), "🟩 Key out #3fa34d (Ben)")
        await telegram.wait_for(lambda: any(c.method == "answerCallbackQuery" and "someone else" in c.params.get("text", "") for c in telegram.calls),
                                "Ben's press is refused")
        telegram.press(ANNA, button(first, "🟩"), "🟩 Key out #3fa34d")
        await telegram.said_containing(ANNA, "Making version 2")
        keyed = newest_edit(avatar)
        assert {k: v for k, v in json.loads(keyed.parameters_json).items() if k != "version"} == {
            "operation": "key_colour", "colours": [green], "by": f"telegram:{ANNA}"}
        await asyncio.to_thread(material_version, runtime, keyed, tmp_path, {"version": 2, "edit": {
            "version": 2, "by": f"telegram:{ANNA}", "operation": "key_colour", "parameters": {"colours": [green]},
            "based_on": 1, "words": "keyed out 1 colour(s) within 40"}})
        second = await telegram.said_containing(ANNA, "Your cut-out, version 2 (keyed out 1 colour(s) within 40)")
        labels = [b["text"] for row in json.loads(second.params["reply_markup"])["inline_keyboard"] for b in row]
        assert labels == ["⬜ Key out #808080", "Despill less", "Undo ↩"], "a keyed colour is not offered again"

        telegram.document(ANNA, "backdrop.png", b"this is a text file", mime="image/png")
        await telegram.said_containing(ANNA, "“backdrop.png” is not a picture I can use")
        telegram.document(ANNA, "huge.png", picture, mime="image/png", size=11 * 1024 * 1024)
        await telegram.said_containing(ANNA, "This picture is 11.0 MB; a background can be at most 10.0 MB")
        assert newest_edit(avatar).id == keyed.id, "a refused picture starts no edit"
        telegram.photo(ANNA, picture)
        await telegram.said_containing(ANNA, "Got your picture: putting it behind you as version 3")
        placed = newest_edit(avatar)
        assert {k: v for k, v in json.loads(placed.parameters_json).items() if k != "version"} == {
            "operation": "background", "image": True, "by": f"telegram:{ANNA}"}
        (image,) = [ref for ref in json.loads(placed.inputs_json) if ref["kind"] == "background_image"]
        stored_picture = tmp_path / "stored.jpg"
        await asyncio.to_thread(runtime.blobs.get_file, image["key"], stored_picture, image["sha256"])
        assert stored_picture.read_bytes() == picture

        await asyncio.to_thread(material_version, runtime, placed, tmp_path, {"version": 3, "edit": {
            "version": 3, "by": f"telegram:{ANNA}", "operation": "background", "parameters": {"image": True},
            "based_on": 2, "words": "a picture behind you"}})
        with runtime.uow() as uow:  # training started: a picture now changes what Anna already accepted
            use_cases.submit_stage(uow, avatar, "syncnet", [], {}, {"syncnet"}, 0)

        def asked(count: int):
            found = [c for c in telegram.sent(ANNA) if "Put this picture behind you in Anna?" in c.params.get("text", "")]
            return len(found) == count and found[-1]

        telegram.photo(ANNA, picture)
        question = await telegram.wait_for(lambda: asked(1), "the bot asks before changing a trained avatar's background")
        telegram.press(ANNA, button(question, "No, keep it"), "No, keep it as it is")
        await telegram.said_containing(ANNA, "the picture was not stored")
        assert newest_edit(avatar).id == placed.id
        telegram.photo(ANNA, picture)
        question = await telegram.wait_for(lambda: asked(2), "asked again")
        telegram.press(ANNA, button(question, "Put it behind me"), "Put it behind me")
        await telegram.said_containing(ANNA, "Got your picture: putting it behind you as version 4")
        assert newest_edit(avatar).id != placed.id


def proposed_materials(runtime, avatar_id: str, video: plugin_pb.ArtifactRef, tmp_path: Path):
    """A finished material_extraction run on `video` proposing two driving clips and two covers."""
    with runtime.uow() as uow:
        run = use_cases.submit_stage(uow, avatar_id, "material_extraction", [video], {}, {"material_extraction"}, 0)
    proposal = {"format": "twinforge.materials", "fps": 25.0, "frame_count": 50, "width": 64, "height": 64,
                "driving_clips": [{"id": "d1", "start": 0, "stop": 25, "reason": "1.0 s with the head still"},
                                  {"id": "d2", "start": 25, "stop": 50, "reason": "1.0 s, the mouth closed"}],
                "covers": [{"id": "c1", "frame": 10, "reason": "sharp, eyes open"}, {"id": "c2", "frame": 40, "reason": "centred"}],
                "test_clips": [], "chosen": {"driving": "d1", "cover": "c1", "tests": []}}
    path = tmp_path / "materials.json"
    path.write_text(json.dumps(proposal))
    finished(runtime, run, {"driving_clips": 2, "covers": 2}, [stored(runtime, avatar_id, run.id, run.stage, "materials", "materials.json", path)])


async def test_the_driving_clip_and_cover_are_picked_with_previews_and_buttons(host, runtime, telegram, tmp_path):
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(InteractiveEdit(), stack)
        await wait_registered(host_grpc.HostServiceStub(channel), "interactive_edit")
        await stack.enter_async_context(bot(runtime, host, telegram))
        telegram.text(ANNA, "/new Anna")
        await telegram.said_containing(ANNA, "New avatar")
        avatar = avatar_of(ANNA)
        blob = tmp_path / "source.bin"
        blob.write_bytes(b"x")
        with runtime.uow() as uow:
            source = use_cases.submit_stage(uow, avatar, "sources", [], {}, {"sources"}, 0)
        video = stored(runtime, avatar, source.id, "sources", "video", "video.mp4", write_test_video(tmp_path / "video.mp4", seconds=2.0))
        sources = [video, *(stored(runtime, avatar, source.id, "sources", kind, f"{kind}.bin", blob) for kind in ("matte", "training_set", "materials"))]
        await asyncio.to_thread(finished, runtime, source, {}, sources)

        await asyncio.to_thread(proposed_materials, runtime, avatar, video, tmp_path)
        await telegram.said_containing(ANNA, "Pick the clip your avatar replays")
        picked = await telegram.wait_for(
            lambda: (found := [c for c in telegram.sent(ANNA) if c.method in ("sendVideo", "sendPhoto") and "reply_markup" in c.params])
            and len(found) == 4 and found, "four candidates")
        assert [p.method for p in picked] == ["sendVideo", "sendVideo", "sendPhoto", "sendPhoto"]
        assert [p.params["caption"].split("\n")[0] for p in picked] == ["Clip d1: 1.0 s ★", "Clip d2: 1.0 s", "Cover c1 ★", "Cover c2"]
        preview = tmp_path / "d1.mp4"
        preview.write_bytes(picked[0].files["video"])
        with av.open(str(preview)) as clip:
            frames = [frame.to_ndarray(format="rgb24").astype(int) for frame in clip.decode(video=0)]
        assert len(frames) == 25 and frames[0].shape[0] == 320  # the clip's second at 25 fps, 320 px high
        assert np.abs(frames[0] - frames[12]).mean() > 10, "the clip preview does not move"
        cover = cv2.imdecode(np.frombuffer(picked[2].files["photo"], np.uint8), cv2.IMREAD_COLOR)
        assert cover is not None and cover.shape[2] == 3
        assert [json.loads(p.params["reply_markup"])["inline_keyboard"][0][0]["text"] for p in picked] == [
            "Use this clip", "Use this clip", "Use this cover", "Use this cover"]
        photos = picked

        telegram.press(BEN, button(photos[1], "Use this clip"), "Anna's clip, pressed by Ben")
        await press_answered(telegram, "meant for someone else", "Ben's press refused")
        with runtime.uow() as uow:
            cut = use_cases.submit_stage(uow, avatar, "cutout", sources, {}, {"cutout"}, 0)
        await asyncio.to_thread(material_version, runtime, cut, tmp_path, {"version": 1, "regions": [],
                                "edit": {"version": 1, "by": "twinforge", "operation": "cutout", "parameters": {}}})
        await telegram.said_containing(ANNA, "Your cut-out, version 1")
        telegram.press(ANNA, button(photos[1], "Use this clip"), "Use this clip (d2)")
        await telegram.said_containing(ANNA, "Making version 2")
        edit = models.StageRun.get((models.StageRun.avatar == avatar) & (models.StageRun.stage == "interactive_edit"))
        assert {k: v for k, v in json.loads(edit.parameters_json).items() if k != "version"} == {
            "operation": "choose", "driving": "d2", "by": f"telegram:{ANNA}"}
        await asyncio.to_thread(material_version, runtime, edit, tmp_path, {"version": 2, "edit": {
            "version": 2, "by": f"telegram:{ANNA}", "operation": "choose", "parameters": {"driving": "d2"}, "based_on": 1,
            "words": "chose driving d2"}})
        await telegram.said_containing(ANNA, "Your cut-out, version 2 (chose driving d2)")
        telegram.press(ANNA, button(photos[3], "Use this cover"), "Use this cover (c2)")
        await telegram.said_containing(ANNA, "Making version 3")
        cover_edit = models.StageRun.select().where((models.StageRun.avatar == avatar) & (models.StageRun.stage == "interactive_edit")).order_by(
            models.StageRun.created_at.desc()).first()
        assert json.loads(cover_edit.parameters_json)["cover"] == "c2"

        await asyncio.to_thread(material_version, runtime, cover_edit, tmp_path, {"version": 3, "edit": {
            "version": 3, "by": f"telegram:{ANNA}", "operation": "choose", "parameters": {"cover": "c2"}, "based_on": 2,
            "words": "chose cover c2"}})
        await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)
        preview = await telegram.said_containing(ANNA, "ready for review")
        telegram.press(ANNA, button(preview, "Reject"), "Reject ✗")
        reasons = await telegram.said_containing(ANNA, "What is wrong?")
        telegram.press(ANNA, button(reasons, "Wrong clip"), "Wrong clip")
        await telegram.said_containing(ANNA, "Pick the clip your avatar should replay instead")
        again = await telegram.wait_for(
            lambda: (found := [c for c in telegram.sent(ANNA) if c.method in ("sendVideo", "sendPhoto") and "reply_markup" in c.params
                               and c.params.get("caption", "").startswith(("Clip", "Cover"))]) and len(found) == 8 and found[4:],
            "the clips and covers offered again")
        assert [c.params["caption"].split("\n")[0] for c in again][:2] == ["Clip d1: 1.0 s ★", "Clip d2: 1.0 s"]
        assert not any("twinforge materials" in text for text in telegram.said(ANNA)), "no CLI commands for a person in Telegram"
        assert await verdicts(host, avatar) == ["rejected"]

        edits = models.StageRun.select().where((models.StageRun.avatar == avatar) & (models.StageRun.stage == "interactive_edit")).count()
        version_1 = await telegram.said_containing(ANNA, "Your cut-out, version 1")
        telegram.press(ANNA, button(version_1, "Despill less"), "Despill less, under version 1")
        await press_answered(telegram, "This cut-out has a newer version", "an edit of an older version answered as stale")
        await asyncio.to_thread(proposed_materials, runtime, avatar, video, tmp_path)  # measured again: a newer proposal
        await telegram.wait_for(lambda: len([c for c in telegram.sent(ANNA) if c.params.get("caption", "").startswith(("Clip", "Cover"))]) == 12,
                                "the newer proposal's clips and covers")
        telegram.press(ANNA, button(photos[0], "Use this clip"), "a clip of the replaced proposal")
        await press_answered(telegram, "These clips were replaced by a newer choice", "a replaced clip answered as stale")
        assert models.StageRun.select().where((models.StageRun.avatar == avatar) & (models.StageRun.stage == "interactive_edit")).count() == edits


async def test_training_shows_a_loss_chart_refreshed_at_most_every_interval(host, runtime, telegram):
    async with bot(runtime, host, telegram, chart_every_s=1.0):
        telegram.text(ANNA, "/new Anna")
        await telegram.said_containing(ANNA, "New avatar")
        avatar = avatar_of(ANNA)
        with runtime.uow() as uow:
            run = use_cases.submit_stage(uow, avatar, "syncnet", [], {}, {"syncnet"}, 0)
        with runtime.uow() as uow:
            use_cases.start_run(uow, run.id)

        def metrics(steps: range) -> None:
            with runtime.uow() as uow:
                for step in steps:
                    use_cases.record_metric(uow, run, plugin_pb.Metric(name="loss", value=2.0 / (1 + step), step=step))
                    use_cases.record_metric(uow, run, plugin_pb.Metric(name="samples_per_second", value=50.0, step=step))
                    use_cases.record_metric(uow, run, plugin_pb.Metric(name="eval_loss", value=2.2 / (1 + step), step=step))

        await asyncio.to_thread(metrics, range(0, 100, 10))
        first = await telegram.said_containing(ANNA, "how the training error falls")
        assert first.method == "sendPhoto" and "(iteration 0;" in first.params["caption"]
        chart = cv2.imdecode(np.frombuffer(first.files["photo"], np.uint8), cv2.IMREAD_COLOR)
        assert chart.shape == (450, 800, 3)
        await asyncio.sleep(0.3)
        assert not telegram.sent(ANNA, "editMessageMedia"), "refreshed before the interval"
        await asyncio.sleep(1.0)
        await asyncio.to_thread(metrics, range(100, 200, 10))
        refreshed = await telegram.wait_for(lambda: telegram.sent(ANNA, "editMessageMedia"), "the chart refreshed")
        media = json.loads(refreshed[0].params["media"])
        assert media["type"] == "photo" and "(iteration 1" in media["caption"] and len(refreshed[0].files["photo"]) > 1000
        await asyncio.to_thread(finished_run, runtime, run)
        await telegram.wait_for(lambda: len(telegram.sent(ANNA, "editMessageMedia")) == 2, "the last points shown when the run ends")
        assert "(iteration 190;" in json.loads(telegram.sent(ANNA, "editMessageMedia")[-1].params["media"])["caption"]
        assert len(telegram.sent(ANNA, "sendPhoto")) == 1
        drawn = cv2.imdecode(np.frombuffer(refreshed[0].files["photo"], np.uint8), cv2.IMREAD_COLOR)
        assert np.any(np.all(np.abs(drawn.astype(int) - [180, 119, 31]) < 40, axis=2)), "no line drawn in the first colour"


def finished_run(runtime, run) -> None:
    with runtime.uow() as uow:
        run_finished.finish_run(uow, run.id, plugin_pb.Result(status=plugin_pb.RESULT_STATUS_SUCCEEDED, summary_json="{}"))


async def test_a_waiting_stage_shows_its_place_in_the_queue(host, runtime, telegram):
    """The host's own positions pass (scheduler/positions.py) over real RQ queues on Redis."""
    async with bot(runtime, host, telegram) as running:
        for person, name in ((BEN, "Ben"), (ANNA, "Anna")):
            telegram.text(person, f"/new {name}")
            await telegram.said_containing(person, "New avatar")
            with runtime.uow() as uow:
                run = use_cases.submit_stage(uow, avatar_of(person), "quality_eval", [], {}, EVALUATION, 0)
            enqueue_stage(runtime.redis, run.id, run.attempt + 1, Resource.GPU)
        await telegram.said_containing(ANNA, "Testing your avatar: waiting")
        await telegram.wait_for(lambda: any("you are 2 of 2 in the queue" in c.params["text"] for c in telegram.sent(ANNA, "editMessageText")),
                                "Anna's place behind Ben")
        telegram.text(BEN, "/cancel")
        asked = await telegram.said_containing(BEN, "Stop Testing your avatar for")
        telegram.press(BEN, button(asked, "Keep going"), "Keep going")
        await telegram.said_containing(BEN, "Nothing was stopped")
        telegram.text(BEN, "/cancel")
        asked = await telegram.wait_for(lambda: [c for c in telegram.sent(BEN) if "Stop Testing your avatar for" in c.params.get("text", "")][1:], "asked again")
        telegram.press(BEN, button(asked[0], "Stop"), "Stop")
        await telegram.said_containing(BEN, "Stopping: Testing your avatar")
        await telegram.wait_for(lambda: any("you are 1 of 1 in the queue" in c.params["text"] for c in telegram.sent(ANNA, "editMessageText")),
                                "Anna first once Ben's run is cancelled")
        await running.pacer.drain()
    assert telegram.messages[(ANNA, int(telegram.sent(ANNA, "editMessageText")[-1].params["message_id"]))]["text"] == (
        "Testing your avatar: waiting for a free machine… you are 1 of 1 in the queue")


async def test_delete_asks_first_then_removes_the_avatar_its_files_and_its_buttons(host, runtime, telegram, tmp_path):
    async with bot(runtime, host, telegram):
        avatar, preview = await anna_with_a_preview(runtime, telegram, tmp_path)
        stored = runtime.settings.resolved_data_dir / "blobs" / "avatars" / avatar
        assert any(path.is_file() for path in stored.rglob("*"))

        (menu,) = [json.loads(c.params["commands"]) for c in telegram.calls if c.method == "setMyCommands" and "language_code" not in c.params]
        assert [item["command"] for item in menu] == ["new", "avatars", "status", "cancel", "delete", "privacy", "web", "language", "help"]
        assert all(item["description"] for item in menu)
        telegram.text(ANNA, "/delete")
        asked = await telegram.said_containing(ANNA, "This cannot be undone")
        assert "Delete Anna and everything of it" in asked.params["text"]
        telegram.press(BEN, button(asked, "Delete everything"), "Anna's delete button, pressed by Ben")
        await press_answered(telegram, "meant for someone else", "Ben's press refused")
        telegram.press(ANNA, button(asked, "Keep it"), "Anna keeps it")
        await telegram.said_containing(ANNA, "Nothing was deleted")
        telegram.press(ANNA, button(asked, "Delete everything"), "the answered question's other button")
        await press_answered(telegram, "You already pressed a button on this message", "a second answer refused")
        assert models.Avatar.get_or_none(models.Avatar.id == avatar) is not None

        telegram.text(ANNA, "/delete")
        asked = await telegram.wait_for(lambda: [c for c in telegram.sent(ANNA) if "This cannot be undone" in c.params.get("text", "")][1:], "asked again")
        telegram.press(ANNA, button(asked[0], "Delete everything"), "Anna deletes it")
        await telegram.said_containing(ANNA, "Anna and all its data are deleted")
        assert models.Avatar.get_or_none(models.Avatar.id == avatar) is None
        assert models.Notification.select().where(models.Notification.avatar == avatar).count() == 0
        assert not stored.exists()
        telegram.press(ANNA, button(preview, "Approve"), "an old button of the deleted avatar")
        await press_answered(telegram, "expired", "the old button refused")
        telegram.text(ANNA, "/status")
        await telegram.said_containing(ANNA, "You have no avatar yet")
    (tmp_path / TRANSCRIPT).write_text(telegram.transcript())
    print(f"transcript: {tmp_path / TRANSCRIPT}")


async def test_a_person_whose_telegram_speaks_chinese_is_answered_in_chinese_and_changes_it_with_language(host, runtime, telegram, tmp_path):
    """From the Telegram app's "zh-hans": /start, /help and the menu in Chinese; /language switches
    to English and back at once; the intake check's advice reaches the person in Chinese."""
    telegram.languages[CAROL] = "zh-hans"
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(VideoAnalysis(), stack)
        await wait_registered(host_grpc.HostServiceStub(channel), "video_analysis")
        await stack.enter_async_context(bot(runtime, host, telegram, allowlist=f"{ANNA},{CAROL}"))
        telegram.text(CAROL, "/start")
        await telegram.said_containing(CAROL, "自然地说话 1 到 5 分钟")
        telegram.text(CAROL, "/help")
        await telegram.said_containing(CAROL, "/language：切换语言（English / 中文）")
        menus = {c.params.get("language_code", ""): json.loads(c.params["commands"]) for c in telegram.calls
                 if c.method == "setMyCommands" and "scope" not in c.params}
        assert set(menus) == {"", "en", "zh"} and menus[""] == menus["en"]
        assert [item["command"] for item in menus["zh"]] == [item["command"] for item in menus["en"]] and "language" in [i["command"] for i in menus["zh"]]
        assert {item["command"]: item["description"] for item in menus["zh"]}["language"] == "切换语言：English / 中文"
        assert {item["command"]: item["description"] for item in menus["en"]}["help"] == "Everything this bot can do"

        telegram.text(CAROL, "/language")
        asked = await telegram.said_containing(CAROL, "请选择语言")
        assert [b["text"] for row in json.loads(asked.params["reply_markup"])["inline_keyboard"] for b in row] == ["English", "中文"]
        telegram.press(ANNA, button(asked, "English"), "Carol's language button, pressed by Anna")
        await press_answered(telegram, "meant for someone else", "Anna's press refused")
        telegram.press(CAROL, button(asked, "English"), "English")
        await telegram.said_containing(CAROL, "I will talk to you in English from now on")
        (chat_menu,) = await telegram.wait_for(lambda: [c for c in telegram.calls if c.method == "setMyCommands" and "scope" in c.params],
                                               "Carol's own menu")
        assert json.loads(chat_menu.params["scope"]) == {"type": "chat", "chat_id": CAROL}
        assert json.loads(chat_menu.params["commands"])[0]["description"] == "Start a new avatar"
        telegram.text(CAROL, "/help")
        await telegram.said_containing(CAROL, "/language: change the language")
        assert state.user(CAROL).language == "en"
        telegram.text(CAROL, "/language")
        again = await telegram.wait_for(lambda: [c for c in telegram.sent(CAROL) if "Choose your language" in c.params.get("text", "")], "the question in English")
        telegram.press(CAROL, button(again[0], "中文"), "中文")
        await telegram.said_containing(CAROL, "以后我都用中文和你说话")

        telegram.text(CAROL, "/new 小李")
        await telegram.said_containing(CAROL, "新分身“小李”")
        avatar = avatar_of(CAROL)
        telegram.document(CAROL, "me.mp4", write_test_video(tmp_path / "me.mp4", seconds=2.0).read_bytes())
        privacy = await telegram.said_containing(CAROL, "你的视频会一直等到你同意")
        telegram.press(CAROL, button(privacy, "我同意"), "我同意")
        await telegram.said_containing(CAROL, "已保存为 小李 的第 1 版")
        (run,) = [r for r in models.StageRun.select().where(models.StageRun.avatar == avatar)]
        assert await asyncio.to_thread(jobs.run_stage, run.id) == "failed"
        report = (await telegram.said_containing(CAROL, "你的视频没有通过检查")).params["text"]
        assert "❌ 时长：2.0 秒\n   → 视频只有 2 秒，不到这个分身需要的" in report
        assert "❌ 分辨率：64 像素\n   → 画面是 64x64 像素" in report and "请按上面的建议重新录一段视频" in report
        await telegram.said_containing(CAROL, "你的视频里的几帧画面（第 1 版）")

        await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path, False)  # the evaluation's verdict, in Chinese too
        below = (await telegram.said_containing(CAROL, "最近一次训练没有达到要求")).params["text"]
        assert "视频有 2 项检查没有通过（共 11 项）。" in below and "❌ 在你自己的讲话里，嘴几乎不动：张合幅度只有你的 10%，至少要 60%。" in below
        assert "✅ 口型跟得上声音。" in below and not re.search(r"[A-Za-z]{3,}", below), below
