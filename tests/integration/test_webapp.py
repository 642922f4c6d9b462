"""The web app's API (bot/webapp) through a real aiohttp server on loopback against the real host:
sign-in refusals, the login link, and the resumable upload of a video from its first piece to a
submission on the host, with pieces out of order, a dropped connection and bad pieces on the way."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time

import aiohttp
import pytest

from bot import app as bot_app
from bot import state
from bot.models import BotUser, FollowedAvatar
from bot.webapp.login import COOKIE, issue_login_token
from host.channels import host_channel_aio
from host.settings import get_settings
from host.storage import models
from plugins.video_analysis.server import VideoAnalysis
from tests.fixtures.fake_telegram import FakeTelegram
from tests.fixtures.media import write_test_video
from tests.fixtures.services import start_plugin
from tests.integration.test_bot import ANNA as TELEGRAM_ANNA
from tests.integration.test_bot import bot
from tests.integration.test_host_flow import wait_registered
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
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
