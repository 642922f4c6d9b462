"""The "talk live" page (static/live.html): the person's browser opens a WebRTC connection to their
avatar's own inference service and talks with it (plugins/inference/live.py). Only the offer and the
hang-up pass through here, so that the service's address stays unknown to the page and only the
avatar's owner reaches it: the avatar is checked as every other route checks it, its endpoint found
as the talk page finds it (GetEndpoint), and the offer forwarded to the service's HTTP API. The
picture, the sound and the typed words then go between the browser and the service directly.

A question may also be spoken: the page records it and posts it here, and it is forwarded to the
service keyed by the session. The words are English and kept here and in the page's own files while the catalogue is being
translated; they move into bot/catalogue with the next round of translations.
"""

from __future__ import annotations

import re

import aiohttp
from aiohttp import web

from bot.webapp.api import HOST, SETTINGS, owned_avatar
from bot.webapp.auth import Refused
from bot.webapp.pages import STATIC

SESSION = re.compile(r"[A-Za-z0-9_-]{8,64}")
SERVICE_TIMEOUT_S = 30.0  # the service answers an offer in well under a second once its clip is held; the first one decodes it
MOST_OFFER_BYTES = 64 * 1024  # a browser's offer is a few kilobytes
MOST_VOICE_BYTES = 1024 * 1024  # aiohttp's own limit on a body read whole: four minutes of a browser's Opus, longer than a question

NOT_LIVE = ("your avatar is not live yet, so there is nobody to talk to", "approve it on the Review page and press Go live, then come back")
DOWN = ("your avatar's service is not answering just now", "try again in a minute; if it stays silent, press Go live again on the Review page")


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "live.html", headers={"Cache-Control": "no-cache"})


async def service_address(request: web.Request) -> str:
    """The avatar's service's HTTP address, for its owner only; refused in words when it has none."""
    avatar = await owned_avatar(request)
    found = await request.app[HOST].endpoint(avatar.avatar_id)
    if not found.HasField("endpoint") or not found.endpoint.http_address:
        raise Refused(409, "not_live", *NOT_LIVE)
    return found.endpoint.http_address


async def forward(method: str, url: str, body: dict | None = None, data: bytes | None = None, content_type: str = "") -> web.Response:
    """The service's answer as it gave it (its refusals are already JSON in words), or our words
    when it cannot be reached: never its address."""
    headers = {"Content-Type": content_type} if data is not None else {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SERVICE_TIMEOUT_S)) as session:
            async with session.request(method, url, json=body, data=data, headers=headers) as reply:
                data = await reply.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        raise Refused(503, "service_down", *DOWN) from None
    if reply.status >= 400:
        raise Refused(reply.status, str(data.get("code") or "refused"), str(data.get("message") or ""), str(data.get("advice") or ""))
    return web.json_response(data, status=reply.status)


async def state(request: web.Request) -> web.Response:
    """Whether there is anyone to talk to, for the page to say before it connects, and the STUN and
    TURN servers its peer connection gathers candidates through (the service's peer takes the same
    settings: docs/deployment.md)."""
    avatar = await owned_avatar(request)
    found = await request.app[HOST].endpoint(avatar.avatar_id)
    live = found.HasField("endpoint") and bool(found.endpoint.http_address)
    return web.json_response({"name": avatar.name, "live": live, "words": "" if live else f"{NOT_LIVE[0].capitalize()}: {NOT_LIVE[1]}.",
                              "ice_servers": list(request.app[SETTINGS].ice_servers)})


async def offer(request: web.Request) -> web.Response:
    """The browser's SDP offer to the avatar's service; its answer back."""
    if (request.content_length or 0) > MOST_OFFER_BYTES:
        raise Refused(413, "too_large", "that is not a connection offer: it is far too long", "reload the page and press Start")
    try:
        body = await request.json()
        sdp, kind = str(body["sdp"]), str(body["type"])
    except (ValueError, KeyError, TypeError):
        raise Refused(400, "bad_offer", "the page sent no connection offer", "reload the page and press Start") from None
    address = await service_address(request)
    return await forward("POST", f"http://{address}/live/offer", {"sdp": sdp, "type": kind})


def session_of(request: web.Request) -> str:
    session = request.match_info["session"]
    if not SESSION.fullmatch(session):
        raise Refused(404, "unknown_session", "there is no such conversation", "reload the page to start a new one")
    return session


async def hang_up(request: web.Request) -> web.Response:
    session = session_of(request)
    address = await service_address(request)
    return await forward("DELETE", f"http://{address}/live/{session}")


async def voice(request: web.Request) -> web.Response:
    """A question spoken into the microphone (what the browser recorded, webm or ogg with Opus):
    the avatar says it back in the person's own voice, or the service's brain answers it."""
    session = session_of(request)
    if (request.content_length or 0) > MOST_VOICE_BYTES:
        raise Refused(413, "too_long", "that recording is too long for one question", "ask in a few shorter sentences")
    recording = await request.read()
    if not recording:
        raise Refused(400, "no_voice", "nothing was recorded", "allow the microphone, press Speak, talk, then press it again")
    address = await service_address(request)
    return await forward("POST", f"http://{address}/live/{session}/say", data=recording, content_type=request.content_type or "audio/webm")


def routes(app: web.Application) -> None:
    app.router.add_get("/live", page)
    app.router.add_get("/api/avatars/{avatar_id}/live", state)
    app.router.add_post("/api/avatars/{avatar_id}/live", offer)
    app.router.add_delete("/api/avatars/{avatar_id}/live/{session}", hang_up)
    app.router.add_post("/api/avatars/{avatar_id}/live/{session}/voice", voice)
