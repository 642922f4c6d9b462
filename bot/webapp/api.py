"""The JSON API under /api/, for the signed-in person only (bot.webapp.auth): who they are and what
they agreed to, the resumable upload of their video, its check result, and the timeline of their
current avatar. Every refusal is JSON with `error`, `message` (what is wrong) and `advice` (what to do)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot import state
from bot.catalogue import language_of, say
from bot.handlers.common import current_avatar, own_avatar
from bot.handlers.privacy import statement
from bot.handlers.upload import in_production
from bot.host_client import HostClient, HostError
from bot.webapp.auth import PERSON, Person, Refused, refusal
from bot.webapp.intake import check_run, intake_result
from bot.webapp.settings import WebAppSettings
from bot.webapp.submit import Finisher, needs_choice, person_of
from bot.webapp.timeline import timeline
from bot.webapp.uploads import STORING, SUBMITTED, Upload, UploadError, UploadStore, megabytes
from bot.webapp.watch import Watcher
from twinforge.host.v1 import host_service_pb2 as host_pb

CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
HOST = web.AppKey("host", HostClient)
STORE = web.AppKey("uploads", UploadStore)
FINISHER = web.AppKey("finisher", Finisher)
SETTINGS = web.AppKey("settings", WebAppSettings)
WATCHER = web.AppKey("watcher", Watcher)


@web.middleware
async def host_refusals(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """The host's words when it refuses or does not answer, and an upload's (or a page's) refusal as it was made."""
    try:
        return await handler(request)
    except HostError as exc:
        if exc.unavailable:
            return refusal(503, "host_down", say("host_down", request[PERSON].language), "try again in a minute")
        return refusal(502, exc.code, exc.words, "")
    except UploadError as exc:
        return refusal(exc.status, exc.code, exc.words, exc.advice, **exc.extra)
    except Refused as exc:
        return refusal(exc.status, exc.code, exc.words, exc.advice)


def person(request: web.Request) -> Person:
    return request[PERSON]


async def owned_avatar(request: web.Request) -> host_pb.Avatar:
    """The avatar the path names, when it is the person's. The host answers another person's avatar
    as an unknown one (so ids cannot be probed); both are refused here alike, with 403."""
    who = person(request)
    try:
        avatar = await own_avatar(request.app[HOST], person_of(who.user_id), request.match_info["avatar_id"])
    except HostError as exc:
        if exc.code != "unknown_avatar":
            raise
        avatar = None
    if avatar is None:
        raise Refused(403, "not_yours", say("webapp_not_yours", who.language), say("webapp_not_yours_advice", who.language))
    return avatar


async def me(request: web.Request) -> web.Response:
    who = person(request)
    avatar = await current_avatar(request.app[HOST], person_of(who.user_id))
    agreed = state.agreed_at(who.user_id)
    limit = request.app[SETTINGS].max_video_bytes
    return web.json_response({
        "language": language_of(who.language, request.app[SETTINGS].language),
        "agreed": agreed is not None,
        "privacy": None if agreed else statement(who.language),
        "avatar": {"id": avatar.avatar_id, "name": avatar.name, "in_production": in_production(avatar)} if avatar else None,
        "limit_bytes": limit, "limit_words": megabytes(limit), "chunk_bytes": request.app[SETTINGS].chunk_bytes,
    })


async def consent(request: web.Request) -> web.Response:
    state.agree(person(request).user_id)
    return web.json_response({"agreed": True})


async def create_upload(request: web.Request) -> web.Response:
    who = person(request)
    try:
        body = await request.json()
        name, size, target = str(body["name"]), int(body["size"]), str(body.get("target", "current"))
    except (ValueError, KeyError, TypeError):
        return refusal(400, "bad_request", "the upload needs the file's name and size", 'send JSON like {"name": "me.mp4", "size": 12345}')
    if state.agreed_at(who.user_id) is None:
        return refusal(403, "consent_needed", "your video is biometric data: it is kept only once you agree to how it is used",
                       "read the privacy statement and press I agree")
    if target == "current":
        avatar = await needs_choice(request.app[HOST], who.user_id)
        if avatar is not None:
            return refusal(409, "choose", say("again_ask", who.language, name=avatar.name), "choose: make it again, or a new avatar",
                           avatar=avatar.name)
    upload = request.app[STORE].create(who.user_id, name, size, target)
    return web.json_response(await described(request, upload), status=201)


async def upload_status(request: web.Request) -> web.Response:
    upload = request.app[STORE].get(request.match_info["upload_id"], person(request).user_id)
    request.app[FINISHER].ensure(upload)  # one left STORING (a restart, the host away) is stored again
    return web.json_response(await described(request, upload))


async def put_piece(request: web.Request) -> web.Response:
    store = request.app[STORE]
    upload = store.get(request.match_info["upload_id"], person(request).user_id)
    found = CONTENT_RANGE.fullmatch(request.headers.get("Content-Range", "").strip())
    if found is None:
        return refusal(400, "no_range", "the piece does not say where in the file it belongs",
                       "send Content-Range: bytes START-END/SIZE", offset=store.offset(upload))
    start, end, total = (int(part) for part in found.groups())
    upload = await store.append(upload, start, end, total, request.content.iter_chunked(64 * 1024))
    request.app[FINISHER].ensure(upload)
    return web.json_response(await described(request, upload))


async def described(request: web.Request, upload: Upload) -> dict:
    """The upload as the page shows it; once submitted, its check's result as it stands."""
    result = {"id": upload.upload_id, "name": upload.name, "size": upload.size, "offset": request.app[STORE].offset(upload),
              "status": upload.status, "words": upload.words, "version": upload.version}
    if upload.status == SUBMITTED:
        runs = await request.app[HOST].runs(upload.avatar_id)
        result["intake"] = intake_result(check_run(runs, upload.version), person(request).language)
    elif upload.status == STORING and not upload.words:
        result["words"] = "sending your video to the platform…"
    return result


async def progress(request: web.Request) -> web.Response:
    who = person(request)
    avatar = await current_avatar(request.app[HOST], person_of(who.user_id))
    news = request.app[WATCHER].news(avatar.avatar_id, who.user_id) if avatar else {}
    return web.json_response({"avatar": timeline(avatar, who.language, news) if avatar else None,
                              "empty": say("webapp_no_avatar", who.language), "close": say("webapp_close", who.language)})


def routes(app: web.Application) -> None:
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/consent", consent)
    app.router.add_post("/api/uploads", create_upload)
    app.router.add_get("/api/uploads/{upload_id}", upload_status)
    app.router.add_put("/api/uploads/{upload_id}", put_piece)
    app.router.add_get("/api/progress", progress)
