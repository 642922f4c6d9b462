"""The talk page: once the avatar is live, typed text comes back as a video of it speaking, made as
the bot makes it (bot.handlers.speak): GetEndpoint, then Render on the avatar's own service. The
video is kept a day in the data directory, for the page to play and to download, and only its
maker may fetch it."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from aiohttp import web

from bot.catalogue import language_of, say
from bot.handlers.speak import voice_name
from bot.host_client import HostError
from bot.webapp.api import HOST, owned_avatar, person
from bot.webapp.auth import Refused
from bot.webapp.media import MEDIA, served

TALK_ID = re.compile(r"[0-9a-f]{32}")
MOST_CHARACTERS = 1000  # a minute or so of speech: one video, not a lecture


def talks(request: web.Request) -> Path:
    return request.app[MEDIA].folder / "talks"


async def talk_page(request: web.Request) -> web.Response:
    """Whether the avatar is live, and which voice speaks typed text (the person types in their own language)."""
    language = person(request).language
    avatar = await owned_avatar(request)
    found = await request.app[HOST].endpoint(avatar.avatar_id)
    live = found.HasField("endpoint") and bool(found.endpoint.grpc_address)
    return web.json_response({"name": avatar.name, "live": live, "voice": say("webapp_talk_voice", language, voice=say(f"voice_name_{language_of(language)}", language)),
                              "words": "" if live else say("webapp_talk_not_live", language), "most": MOST_CHARACTERS})


async def speak(request: web.Request) -> web.Response:
    who = person(request)
    avatar = await owned_avatar(request)
    try:
        text = str((await request.json()).get("text", "")).strip()
    except (ValueError, AttributeError):
        text = ""
    if not text:
        raise Refused(400, "no_text", say("webapp_talk_empty", who.language), say("webapp_talk_type", who.language))
    if len(text) > MOST_CHARACTERS:
        raise Refused(400, "too_long", say("webapp_talk_too_long", who.language, count=len(text), limit=MOST_CHARACTERS),
                      say("webapp_talk_shorter", who.language))
    host = request.app[HOST]
    found = await host.endpoint(avatar.avatar_id)
    if not found.HasField("endpoint") or not found.endpoint.grpc_address:
        raise Refused(409, "not_live", say("webapp_talk_not_live", who.language), say("webapp_talk_not_live_advice", who.language))
    try:
        video, summary = await host.render(found.endpoint.grpc_address, text=text)
    except HostError as exc:
        if exc.unavailable:  # the client's words name the service's address
            raise Refused(503, "service_down", say("webapp_render_down", who.language), say("webapp_render_down_advice", who.language)) from None
        raise
    request.app[MEDIA].sweep()
    talk_id = secrets.token_hex(16)
    folder = talks(request) / str(who.user_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{talk_id}.mp4").write_bytes(video)
    return web.json_response({"video": f"/api/talks/{talk_id}", "seconds": summary.seconds,
                              "caption": say("rendered_text", who.language, seconds=summary.seconds, voice=voice_name(text, who.language))})


async def talk_video(request: web.Request) -> web.StreamResponse:
    who = person(request)
    talk_id = request.match_info["talk_id"]
    mine = talks(request) / str(who.user_id) / f"{talk_id}.mp4"
    if TALK_ID.fullmatch(talk_id) and mine.exists():
        return served(mine)
    if TALK_ID.fullmatch(talk_id) and any(talks(request).glob(f"*/{talk_id}.mp4")):
        raise Refused(403, "not_yours", say("webapp_not_your_video", who.language), say("webapp_unknown_video_advice", who.language))
    raise Refused(404, "unknown_video", say("webapp_unknown_video", who.language), say("webapp_unknown_video_advice", who.language))


def routes(app: web.Application) -> None:
    app.router.add_get("/api/avatars/{avatar_id}/talk", talk_page)
    app.router.add_post("/api/avatars/{avatar_id}/talk", speak)
    app.router.add_get("/api/talks/{talk_id}", talk_video)
