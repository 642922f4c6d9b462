"""The web app's API (bot/webapp) through a real aiohttp server on loopback against the real host:
sign-in refusals, the login link, and the resumable upload of a video from its first piece to a
submission on the host, with pieces out of order, a dropped connection and bad pieces on the way."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time

import aiohttp
import av
import cv2
import numpy as np
import pytest

from bot import app as bot_app
from bot import state
from bot.models import BotUser, FollowedAvatar
from bot.webapp.login import COOKIE, issue_login_token
from bot.webapp.media import MEDIA
from host import deployments, use_cases
from host.channels import host_channel_aio
from host.settings import get_settings
from host.storage import models
from plugins.deployment.server import Deployment
from plugins.image_packaging.server import ImagePackaging
from plugins.interactive_edit.server import InteractiveEdit
from plugins.video_analysis.server import VideoAnalysis
from scheduler.queues import Resource, enqueue_stage
from tests.fixtures.evaluation import round_summary
from tests.fixtures.fake_telegram import FakeTelegram
from tests.fixtures.media import write_test_video
from tests.fixtures.services import start_plugin
from tests.integration.test_bot import ANNA as TELEGRAM_ANNA
from tests.integration.test_bot import EVALUATION, bot, closed_port, evaluation_round, first_cutout, proposed_materials, stored, verdicts
from tests.integration.test_deploy_api import finished
from tests.integration.test_host_flow import wait_registered
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb
from tests.fixtures.webapp import ANNA, BEN, STRANGER, signed, webapp

PIECE = 4096


@pytest.fixture
async def app(host, tmp_path):
    """The web app and a client; the intake check's plugin is registered (the host takes a submission
    only for a stage someone serves), but no worker runs it."""
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(VideoAnalysis(), stack)
        await wait_registered(host_grpc.HostServiceStub(channel), "video_analysis")
        running = await stack.enter_async_context(webapp(host, tmp_path / "web", chunk_bytes=PIECE // 2, max_video_bytes=10 * 1024 * 1024))
        # unsafe: the cookie jar keeps cookies of an IP address
        client = await stack.enter_async_context(aiohttp.ClientSession(running.url, cookie_jar=aiohttp.CookieJar(unsafe=True)))
        yield client, running


async def answer(response: aiohttp.ClientResponse) -> tuple[int, dict]:
    return response.status, await response.json()


async def test_the_api_refuses_anyone_not_signed_in_and_says_how_to_get_in(app):
    client, _ = app
    status, body = await answer(await client.get("/api/me"))
    assert status == 401 and body["error"] == "not_signed_in" and "/web" in body["advice"]
    status, body = await answer(await client.get("/api/me", headers=signed(ANNA, token="1:another-bot")))
    assert status == 403 and body["error"] == "bad_signature" and body["message"] and body["advice"]
    status, body = await answer(await client.get("/api/me", headers=signed(ANNA, auth_date=time.time() - 2 * 86400)))
    assert status == 403 and body["error"] == "expired"
    status, body = await answer(await client.get("/api/me", headers=signed(STRANGER)))
    assert status == 403 and body["error"] == "not_allowed" and str(STRANGER) in body["message"]
    status, body = await answer(await client.get("/api/progress", cookies={COOKIE: f"{ANNA}.9999999999.{'0' * 64}"}))
    assert status == 403 and body["error"] == "bad_session"
    page = await client.get("/")
    assert page.status == 200 and "Send your video" in await page.text()
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


async def test_a_login_link_signs_a_browser_in_once(app):
    client, _ = app
    token = await asyncio.to_thread(issue_login_token, ANNA, 600)
    first = await client.get(f"/login?token={token}", allow_redirects=False)
    assert first.status == 303 and first.headers["Location"] == "/"
    assert client.cookie_jar.filter_cookies(client._base_url)[COOKIE].value.startswith(f"{ANNA}.")
    status, body = await answer(await client.get("/api/me"))
    assert status == 200 and body["agreed"] is False and "biometric" in body["privacy"]
    again = await client.get(f"/login?token={token}", allow_redirects=False)
    assert again.status == 403 and "works once" in await again.text()


async def put(client: aiohttp.ClientSession, upload_id: str, data: bytes, start: int, size: int, user: int = ANNA):
    headers = {**signed(user), "Content-Range": f"bytes {start}-{start + len(data) - 1}/{size}"}
    return await answer(await client.put(f"/api/uploads/{upload_id}", data=data, headers=headers))


async def dropped_put(url: str, upload_id: str, data: bytes, start: int, size: int, sent: int) -> None:
    """A piece whose connection drops after `sent` of its bytes, as a phone going into a tunnel."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    auth = signed(ANNA)["Authorization"]
    writer.write((f"PUT /api/uploads/{upload_id} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
                  f"Content-Range: bytes {start}-{start + len(data) - 1}/{size}\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data[:sent])
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()


async def status_of(client, upload_id: str, user: int = ANNA) -> tuple[int, dict]:
    return await answer(await client.get(f"/api/uploads/{upload_id}", headers=signed(user)))


async def test_a_video_sent_in_pieces_out_of_order_and_after_a_dropped_connection_reaches_the_host(app, tmp_path):
    client, running = app
    video = write_test_video(tmp_path / "me.mp4", seconds=2.0).read_bytes()
    size = len(video)
    assert size > 3 * PIECE

    status, body = await answer(await client.post("/api/uploads", json={"name": "me.mp4", "size": size}, headers=signed(ANNA)))
    assert status == 403 and body["error"] == "consent_needed", "a video is stored only once the person agreed"
    assert (await client.post("/api/consent", headers=signed(ANNA))).status == 200
    status, body = await answer(await client.post("/api/uploads", json={"name": "big.mp4", "size": 11 * 1024 * 1024}, headers=signed(ANNA)))
    assert status == 413 and body["error"] == "too_big" and "10 MB" in body["message"]
    status, body = await answer(await client.post("/api/uploads", json={"name": "notes.txt", "size": 5}, headers=signed(ANNA)))
    assert status == 400 and body["error"] == "not_a_video"
    status, body = await answer(await client.post("/api/uploads", json={"name": "../../etc/me.mp4", "size": size}, headers=signed(ANNA)))
    assert status == 201 and body["offset"] == 0 and body["status"] == "receiving" and body["name"] == "me.mp4"
    upload_id = body["id"]

    status, body = await put(client, upload_id, video[PIECE : 2 * PIECE], PIECE, size)
    assert status == 409 and body["error"] == "wrong_offset" and body["offset"] == 0, "a piece ahead of the file is refused"
    status, body = await put(client, upload_id, video[:PIECE], 0, size)
    assert status == 200 and body["offset"] == PIECE

    assert (await status_of(client, upload_id, BEN))[0] == 403, "someone else's upload"
    assert (await status_of(client, "0" * 32))[0] == 404
    assert (await status_of(client, "..%2F..%2Ftwinforge.db"))[0] == 404
    status, body = await put(client, upload_id, video[PIECE : 2 * PIECE], PIECE, size + 1)
    assert status == 400 and body["error"] == "size_mismatch"
    headers = {**signed(ANNA), "Content-Range": f"bytes {PIECE}-{PIECE + 99}/{size}"}
    status, body = await answer(await client.put(f"/api/uploads/{upload_id}", data=video[PIECE : 2 * PIECE], headers=headers))
    assert status == 400 and body["error"] == "piece_too_long"
    status, body = await put(client, upload_id, video[PIECE : PIECE + 3 * PIECE], PIECE, size)
    assert status == 413 and body["error"] == "piece_too_big"
    assert (await status_of(client, upload_id))[1]["offset"] == PIECE, "a bad piece leaves what came before as it was"

    await dropped_put(running.url, upload_id, video[PIECE : 2 * PIECE], PIECE, size, sent=3000)
    status, body = await status_of(client, upload_id)
    resumed = body["offset"]
    assert status == 200 and PIECE <= resumed < 2 * PIECE, "what arrived before the drop is kept, nothing more"
    stored = next((tmp_path / "web").rglob(f"{upload_id}.part")).read_bytes()
    assert stored == video[:resumed]

    offset = resumed
    while offset < size:
        status, body = await put(client, upload_id, video[offset : offset + PIECE], offset, size)
        assert status == 200, body
        offset = body["offset"]
    assert body["status"] in ("storing", "submitted")
    deadline = time.monotonic() + 20
    while body["status"] != "submitted":
        assert time.monotonic() < deadline and body["status"] == "storing", body
        await asyncio.sleep(0.1)
        status, body = await status_of(client, upload_id)
    assert body["version"] == 1 and body["intake"]["done"] is False, "the check waits for a worker"

    person = BotUser.get(BotUser.user_id == ANNA)
    avatar = models.Avatar.get(models.Avatar.id == person.current_avatar)
    assert avatar.name == "My avatar" and avatar.owner.external_id == state.owner_of(ANNA)
    submission = models.Submission.get(models.Submission.avatar == avatar)
    assert submission.filename == "me.mp4" and submission.video_sha256 == hashlib.sha256(video).hexdigest()
    assert FollowedAvatar.get_or_none(FollowedAvatar.avatar_id == avatar.id) is not None, "the bot will tell the person in the chat"
    assert not list((tmp_path / "web").rglob(f"{upload_id}.part")), "the copy goes once the host has the video"
    status, body = await put(client, upload_id, video[:PIECE], 0, size)
    assert status == 409 and body["error"] == "complete"

    status, body = await answer(await client.post("/api/uploads", json={"name": "again.mp4", "size": size}, headers=signed(ANNA)))
    assert status == 201, "a video after a check that has not passed is the fix: no question"

    status, body = await answer(await client.get("/api/progress", headers=signed(ANNA)))
    assert status == 200 and body["avatar"]["name"] == "My avatar"
    steps = body["avatar"]["steps"]
    assert [s["name"] for s in steps][:2] == ["Checking your video", "Preparing your video"] and len(steps) == 7
    assert steps[0]["state"] == "queued" and {s["state"] for s in steps[1:]} == {"pending"}
    assert body["avatar"]["summary"] == "Step 1 of 7: Checking your video"
    assert "we will message you" in body["close"]
    assert not re.search(r"[0-9a-f]{32}|127\.0\.0\.1|twinforge |video_analysis", str(body)), "no ids, addresses or commands"



async def test_the_bot_hands_out_a_login_link_and_tells_about_an_avatar_the_web_app_started(app, host, runtime, tmp_path, monkeypatch):
    _, running = app
    monkeypatch.setattr(bot_app, "FOLLOW_SCAN_S", 0.2)
    monkeypatch.setenv("TWINFORGE_WEBAPP_URL", running.url)
    get_settings.cache_clear()
    telegram = FakeTelegram()
    await telegram.start()
    try:
        async with bot(runtime, host, telegram):
            telegram.text(TELEGRAM_ANNA, "/web")
            said = await telegram.said_containing(TELEGRAM_ANNA, "login link")
            link = re.search(r"http://\S+/login\?token=\S+", said.params["text"]).group(0)
            assert "web_app" not in said.params.get("reply_markup", ""), "a Mini App button needs HTTPS"
            async with aiohttp.ClientSession(running.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
                assert (await browser.get(link, allow_redirects=False)).status == 303
                assert (await browser.get(link, allow_redirects=False)).status == 403, "a login link works once"
                assert (await browser.post("/api/consent")).status == 200
                video = write_test_video(tmp_path / "me.mp4", seconds=1.0).read_bytes()
                status, body = await answer(await browser.post("/api/uploads", json={"name": "me.mp4", "size": len(video)}))
                assert status == 201
                upload_id, offset = body["id"], 0
                while offset < len(video):
                    headers = {"Content-Range": f"bytes {offset}-{min(offset + PIECE, len(video)) - 1}/{len(video)}"}
                    status, body = await answer(await browser.put(f"/api/uploads/{upload_id}", data=video[offset : offset + PIECE], headers=headers))
                    assert status == 200, body
                    offset = body["offset"]
            # the web app made the avatar and wrote it down as followed; the bot picks it up and says so in the chat
            await telegram.said_containing(TELEGRAM_ANNA, "Checking your video")
    finally:
        await telegram.stop()


# ---- the pages after the upload: review, clips and covers, talk, and the progress's queue place and time left


def anna_with_an_avatar(runtime, name: str = "Anna", user_id: int = ANNA) -> str:
    """An avatar the person owns and has as the current one, as /new leaves it."""
    state.remember(user_id, user_id, "en")
    with runtime.uow() as uow:
        avatar = use_cases.create_avatar(uow, state.owner_of(user_id), name)
    state.set_current(user_id, avatar.id)
    return avatar.id


def source_video(runtime, avatar_id: str, tmp_path) -> plugin_pb.ArtifactRef:
    """The person's video stored as a finished run's output, as the flow's first stages leave it."""
    with runtime.uow() as uow:
        run = use_cases.submit_stage(uow, avatar_id, "sources", [], {}, {"sources"}, 0)
    video = stored(runtime, avatar_id, run.id, "sources", "video", "video.mp4", write_test_video(tmp_path / f"video-{run.id}.mp4", seconds=2.0))
    finished(runtime, run, {}, [video])
    return video


def round_with_the_recording(runtime, avatar_id: str, video: plugin_pb.ArtifactRef, tmp_path) -> None:
    """A passed evaluation as quality_eval leaves it: the render of test clip t1 (frames 0..25 of the
    person's video, named in its report), the render with another voice, and the verdict's results."""
    with runtime.uow() as uow:
        run = use_cases.submit_stage(uow, avatar_id, "quality_eval", [video], {"preset": "draft"}, EVALUATION, 1)
    report = tmp_path / f"report-{run.id}.json"
    report.write_text(json.dumps({"clips": [{"id": "t1", "kind": "own", "start": 0, "stop": 25}]}))
    outputs = [stored(runtime, avatar_id, run.id, "quality_eval", "evaluation", "quality_eval.json", report)]
    for kind, metadata in (("preview", {"clip": "t1"}), ("voice_preview", {"clip": "v1", "voice": "a low, slow voice"})):
        ref = stored(runtime, avatar_id, run.id, "quality_eval", kind, f"{kind}.mp4", write_test_video(tmp_path / f"{kind}-{run.id}.mp4", seconds=1.0))
        ref.metadata_json = json.dumps(metadata)
        outputs.append(ref)
    finished(runtime, run, round_summary(), outputs)


def plain(body: object) -> bool:
    """No ids, addresses, ports, stage ids or commands in what a person reads."""
    return not re.search(r"[0-9a-f]{32}|127\.0\.0\.1|twinforge |quality_eval|generation \d|round \d|telegram:\d", json.dumps(body))


@pytest.fixture
async def review_app(host, tmp_path):
    """The web app with the packaging and deployment plugins registered (the host accepts a Deploy
    only for a stage someone serves; no worker runs them)."""
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        for plugin in (ImagePackaging(), Deployment(), InteractiveEdit()):
            await start_plugin(plugin, stack)
            await wait_registered(host_grpc.HostServiceStub(channel), plugin.stages[0])
        running = await stack.enter_async_context(webapp(host, tmp_path / "web"))
        yield await stack.enter_async_context(aiohttp.ClientSession(running.url)), running


async def test_a_round_is_watched_beside_the_recording_approved_and_deployed(review_app, runtime, host, tmp_path):
    client, _ = review_app
    avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
    base = f"/api/avatars/{avatar}"
    status, body = await answer(await client.get(f"{base}/review", headers=signed(ANNA)))
    assert status == 200 and body["state"] == "none" and not body["can_approve"] and "nothing to review" in body["headline"]
    assert "once it is trained, tested and approved" in body["deploy_words"]

    video = await asyncio.to_thread(source_video, runtime, avatar, tmp_path)
    await asyncio.to_thread(round_with_the_recording, runtime, avatar, video, tmp_path)
    status, body = await answer(await client.get(f"{base}/review", headers=signed(ANNA)))
    assert status == 200 and body["state"] == "waiting" and body["can_approve"] and body["can_reject"] and not body["can_deploy"]
    verdict = body["verdict"]
    assert verdict["headline"] == "The video passes all 11 checks, lip sync first." and verdict["items"][1] == {
        "status": "pass", "text": "The lips follow the voice."}
    assert {"status": "pass", "text": "The mouth is as sharp as in your recording: teeth and lip edges are clear, with no noise."} in verdict["items"]
    assert "a low, slow voice" in body["labels"]["voice"]
    assert [r["label"] for r in body["reasons"]] == ["Lips are off", "Mouth is blurry", "It jitters", "Wrong clip", "Something else"]
    assert all(body["media"][part] for part in ("render", "voice", "recording")) and plain({k: v for k, v in body.items() if k != "media"})

    for part in ("render", "voice", "recording"):
        response = await client.get(body["media"][part], headers=signed(ANNA))
        assert response.status == 200 and response.headers["Content-Type"] == "video/mp4", part
        path = tmp_path / f"{part}.mp4"
        path.write_bytes(await response.read())
        with av.open(str(path)) as clip:
            frames = sum(1 for _ in clip.decode(video=0))
        assert frames == 25, f"{part}: {frames} frames"  # the recording: the clip's 25 frames, cut from the person's video
    ranged = await client.get(body["media"]["render"], headers={**signed(ANNA), "Range": "bytes=0-99"})
    assert ranged.status == 206 and len(await ranged.read()) == 100, "a browser seeks with ranges"

    status, refused = await answer(await client.get(f"{base}/review", headers=signed(BEN)))
    assert status == 403 and refused["error"] == "not_yours" and refused["advice"]
    status, refused = await answer(await client.get(body["media"]["recording"], headers=signed(BEN)))
    assert status == 403 and refused["error"] == "not_yours"
    status, refused = await answer(await client.post(f"{base}/approve", headers=signed(BEN)))
    assert status == 403, "Ben cannot approve Anna's avatar"
    assert (await answer(await client.get(f"/api/avatars/{'0' * 32}/review", headers=signed(ANNA))))[0] == 403, "an unknown avatar reads the same"

    status, done = await answer(await client.post(f"{base}/approve", headers=signed(ANNA)))
    assert status == 200 and done["words"].startswith("Approved") and done["can_deploy"] and "can go live now" in done["deploy_words"]
    assert await verdicts(host, avatar) == ["approved"]
    status, refused = await answer(await client.post(f"{base}/approve", headers=signed(ANNA)))
    assert status == 409 and refused["error"] == "already_judged" and refused["advice"] and plain(refused)

    status, body = await answer(await client.get(f"{base}/review", headers=signed(ANNA)))
    assert body["state"] == "approved" and body["can_deploy"] and not body["can_approve"]
    status, done = await answer(await client.post(f"{base}/deploy", headers=signed(ANNA)))
    assert status == 200 and "Building your avatar's service" in done["words"]
    assert models.StageRun.get_or_none((models.StageRun.avatar == avatar) & (models.StageRun.stage == "image_packaging")) is not None
    assert FollowedAvatar.get_or_none(FollowedAvatar.avatar_id == avatar) is not None, "the bot tells the person when it is live"


async def test_a_rejection_leads_to_the_clip_picker_or_sends_the_words(review_app, runtime, host, tmp_path):
    client, _ = review_app
    avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
    base = f"/api/avatars/{avatar}"
    await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)
    status, body = await answer(await client.get(f"{base}/review", headers=signed(ANNA)))
    assert body["media"]["render"] and not body["media"]["voice"] and not body["media"]["recording"], "only what the round has"
    status, refused = await answer(await client.post(f"{base}/reject", json={"reason": "ugly"}, headers=signed(ANNA)))
    assert status == 400 and refused["error"] == "unknown_reason" and "wrong clip" in refused["advice"]
    status, refused = await answer(await client.post(f"{base}/reject", json={"reason": "other", "text": "  "}, headers=signed(ANNA)))
    assert status == 400 and refused["error"] == "text_needed"
    status, done = await answer(await client.post(f"{base}/reject", json={"reason": "wrong_clip"}, headers=signed(ANNA)))
    assert status == 200 and done["next"] == "materials" and "Pick the clip" in done["words"] and plain(done)

    await asyncio.to_thread(evaluation_round, runtime, avatar, tmp_path)
    status, done = await answer(await client.post(f"{base}/reject", json={"reason": "other", "text": "my hair looks odd"}, headers=signed(ANNA)))
    assert status == 200 and done["next"] == "progress" and "Your words go to the operator" in done["words"] and plain(done)
    rounds = models.Notification.select().where((models.Notification.avatar == avatar) & (models.Notification.kind == "avatar_rejected"))
    assert [json.loads(n.payload_json)["text"] for n in rounds] == ["", "my hair looks odd"]
    assert await verdicts(host, avatar) == ["rejected", "rejected"]
    status, body = await answer(await client.get(f"{base}/review", headers=signed(ANNA)))
    assert body["state"] == "rejected" and not body["can_reject"] and "changes you asked for" in body["deploy_words"]
    assert body["headline"] == "You asked for changes: your words went to the operator, who answers you in the chat"


async def test_the_clips_and_covers_play_in_a_gallery_and_one_is_picked(review_app, runtime, tmp_path):
    client, _ = review_app
    avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
    base = f"/api/avatars/{avatar}"
    status, body = await answer(await client.get(f"{base}/materials", headers=signed(ANNA)))
    assert status == 200 and body["items"] == [] and "show up here" in body["intro"]
    video = await asyncio.to_thread(source_video, runtime, avatar, tmp_path)
    await asyncio.to_thread(proposed_materials, runtime, avatar, video, tmp_path)
    status, body = await answer(await client.get(f"{base}/materials", headers=signed(ANNA)))
    items = body["items"]
    assert [i["title"] for i in items] == ["Clip d1: 1.0 s ★", "Clip d2: 1.0 s", "Cover c1 ★", "Cover c2"]
    assert [i["chosen"] for i in items] == [True, False, True, False] and items[1]["reason"] == "1.0 s, the mouth closed"
    assert [i["button"] for i in items] == ["Use this clip", "Use this clip", "Use this cover", "Use this cover"]
    clip = await client.get(items[1]["preview"], headers=signed(ANNA))
    assert clip.status == 200 and clip.headers["Content-Type"] == "video/mp4"
    (tmp_path / "d2.mp4").write_bytes(await clip.read())
    with av.open(str(tmp_path / "d2.mp4")) as played:
        frames = [frame.to_ndarray(format="rgb24") for frame in played.decode(video=0)]
    assert len(frames) == 25 and frames[0].shape[0] == 320, "the bot's preview: the clip's second, 320 px high"
    cover = await client.get(items[3]["preview"], headers=signed(ANNA))
    assert cover.status == 200 and cover.headers["Content-Type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(await cover.read(), np.uint8), cv2.IMREAD_COLOR) is not None
    assert (await client.get(items[1]["preview"], headers=signed(BEN))).status == 403
    assert (await client.get(f"{base}/materials/driving/d9", headers=signed(ANNA))).status == 404

    await asyncio.to_thread(first_cutout, runtime, avatar, tmp_path, {"regions": []})
    status, refused = await answer(await client.post(f"{base}/materials/choose", json={"kind": "driving", "id": "d9"}, headers=signed(ANNA)))
    assert status == 400 and refused["error"] == "no_candidate"
    status, done = await answer(await client.post(f"{base}/materials/choose", json={"kind": "driving", "id": "d2"}, headers=signed(ANNA)))
    assert status == 200 and done["words"] == "Making version 2…"
    edit = models.StageRun.get((models.StageRun.avatar == avatar) & (models.StageRun.stage == "interactive_edit"))
    assert {k: v for k, v in json.loads(edit.parameters_json).items() if k != "version"} == {"operation": "choose", "driving": "d2", "by": f"telegram:{ANNA}"}


async def test_the_talk_page_says_which_voice_speaks_and_why_it_cannot_talk_yet(review_app, runtime, tmp_path):
    client, running = review_app
    avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
    base = f"/api/avatars/{avatar}"
    status, body = await answer(await client.get(f"{base}/talk", headers=signed(ANNA)))
    assert status == 200 and not body["live"] and "not live yet" in body["words"] and "computer's English voice" in body["voice"]
    status, refused = await answer(await client.post(f"{base}/talk", json={"text": "Hello"}, headers=signed(ANNA)))
    assert status == 409 and refused["error"] == "not_live" and "Deploy" in refused["advice"]
    with runtime.uow() as uow:
        run = use_cases.submit_stage(uow, avatar, deployments.DEPLOYMENT, [], {"target": "local"}, {deployments.DEPLOYMENT}, 0)
    await asyncio.to_thread(finished, runtime, run, {"endpoint": {"target": "local", "grpc_address": f"127.0.0.1:{closed_port()}", "http_address": ""}})
    status, body = await answer(await client.get(f"{base}/talk", headers=signed(ANNA)))
    assert body["live"] and body["words"] == ""
    status, refused = await answer(await client.post(f"{base}/talk", json={"text": " "}, headers=signed(ANNA)))
    assert status == 400 and refused["error"] == "no_text"
    status, refused = await answer(await client.post(f"{base}/talk", json={"text": "x" * 1001}, headers=signed(ANNA)))
    assert status == 400 and refused["error"] == "too_long"
    status, refused = await answer(await client.post(f"{base}/talk", json={"text": "Hello"}, headers=signed(ANNA)))
    assert status == 503 and refused["error"] == "service_down" and plain(refused), "the service's address stays out of the words"
    assert (await client.post(f"{base}/talk", json={"text": "Hello"}, headers=signed(BEN))).status == 403

    talks = running.app[MEDIA].folder / "talks"
    (talks / str(BEN)).mkdir(parents=True)
    (talks / str(BEN) / f"{'b' * 32}.mp4").write_bytes(b"Ben's video")
    status, refused = await answer(await client.get(f"/api/talks/{'b' * 32}", headers=signed(ANNA)))
    assert status == 403 and refused["error"] == "not_yours"
    assert (await client.get(f"/api/talks/{'b' * 32}", headers=signed(BEN))).status == 200
    assert (await client.get(f"/api/talks/{'c' * 32}", headers=signed(BEN))).status == 404


async def test_the_progress_says_the_place_in_the_queue_and_the_time_left(review_app, runtime):
    client, _ = review_app
    waiting = {}
    for person, name in ((BEN, "Ben"), (ANNA, "Anna")):
        avatar = await asyncio.to_thread(anna_with_an_avatar, runtime, name, person)
        with runtime.uow() as uow:
            waiting[person] = use_cases.submit_stage(uow, avatar, "quality_eval", [], {}, EVALUATION, 0)
        enqueue_stage(runtime.redis, waiting[person].id, waiting[person].attempt + 1, Resource.GPU)

    async def progress(person: int, wanted: str) -> dict:
        deadline = time.monotonic() + 20
        while True:
            status, body = await answer(await client.get("/api/progress", headers=signed(person)))
            assert status == 200, body
            if wanted in str(body["avatar"]) or time.monotonic() > deadline:
                return body["avatar"]
            await asyncio.sleep(0.3)

    found = await progress(ANNA, "2 of 2")
    assert found["queue"] == "You are 2 of 2 in the queue for a free machine." and found["eta"] == ""
    with runtime.uow() as uow:
        run = use_cases.start_run(uow, waiting[BEN].id)
        use_cases.record_progress(uow, run, plugin_pb.Progress(fraction=0.25, message="measuring", eta_seconds=600.0))
    found = await progress(BEN, "minutes left")
    assert found["eta"] == "About 10 minutes left for this step." and found["queue"] == "" and plain(found)


async def test_a_chinese_speaking_person_gets_the_page_and_its_words_in_chinese(review_app, runtime, tmp_path):
    """The page is filled from the catalogue in the language the link asks for, or the signed-in
    person's; the API's words, the intake advice, the talk page's voice and the review's details
    (the evaluation's verdict) follow the person's language."""
    client, _ = review_app
    english, chinese = await client.get("/"), await client.get("/?lang=zh-hans")
    assert "Send your video" in await english.text() and english.headers["Content-Language"] == "en"
    page = await chinese.text()
    assert '<html lang="zh">' in page and "<h1>发送你的视频</h1>" in page and ">上传</button>" in page and "{{" not in page
    words = json.loads(page.split('<script type="application/json" id="words">')[1].split("</script>")[0])
    assert words["page_limit"] == "最大 {limit}。网络断了也没关系，上传会从断开的地方接着传。" and all(key.startswith("page_") for key in words)
    assert "发送你的视频" in await (await client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})).text()

    status, body = await answer(await client.get("/api/me", headers=signed(BEN, language_code="zh-hans")))
    assert status == 200 and body["language"] == "zh" and "生物特征信息" in body["privacy"]
    avatar = await asyncio.to_thread(anna_with_an_avatar, runtime, "小本", BEN)
    status, body = await answer(await client.get(f"/api/avatars/{avatar}/talk", headers=signed(BEN)))
    assert status == 200 and "电脑的中文声音" in body["voice"] and "还没上线" in body["words"]
    video = await asyncio.to_thread(source_video, runtime, avatar, tmp_path)
    await asyncio.to_thread(round_with_the_recording, runtime, avatar, video, tmp_path)
    status, body = await answer(await client.get(f"/api/avatars/{avatar}/review", headers=signed(BEN)))
    verdict = body["verdict"]
    assert status == 200 and verdict["headline"] == "视频通过了全部 11 项检查，口型同步排在第一。"
    assert verdict["items"][1] == {"status": "pass", "text": "口型跟得上声音。"} and verdict["items"][-1]["status"] == "skipped"
    assert {"status": "pass", "text": "嘴和你录像里的一样清楚：牙齿和嘴唇边缘清晰，没有噪点。"} in verdict["items"]
    said = verdict["headline"] + "".join(item["text"] for item in verdict["items"])
    assert not re.search(r"[A-Za-z]{3,}", said), "the verdict's details say no rule or measure in English"
    token = await asyncio.to_thread(issue_login_token, BEN, 600)
    session = (await client.get(f"/login?token={token}", allow_redirects=False)).cookies[COOKIE].value
    page = await (await client.get("/?lang=en", cookies={COOKIE: session})).text()
    assert '<html lang="zh">' in page, "a signed-in browser gets the person's language"
