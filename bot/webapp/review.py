"""The review page: the newest round of the avatar (host/approval.py) with its render beside the
person's real recording of the same moment, the render with another voice where the round has one,
the evaluation's verdict in the person's language (bot.report.verdict_details), and the person's
verdict. The calls are the bot's (bot.handlers.buttons): ApproveAvatar, RejectAvatar with one of
the bot's reasons (a wrong clip leads to the clip picker, as the bot offers the clips again; other
words go as the rejection's text, as the bot sends them), and Deploy once the host says it may be
deployed."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from aiohttp import web

from bot import pictures, state
from bot.report import adjustment, verdict_details
from bot.catalogue import say
from bot.host_client import HostClient, HostError
from bot.keyboards import REASONS
from bot.notifications import VIDEO_KIND
from bot.webapp.api import HOST, owned_avatar, person
from bot.webapp.auth import Refused
from bot.webapp.media import MEDIA, served
from bot.webapp.submit import person_of
from twinforge.host.v1 import host_service_pb2 as host_pb

EVALUATION_STAGE = "quality_eval"
PREVIEW_KIND, REPORT_KIND = "preview", "evaluation"  # the evaluation's outputs (docs/approval.md)
PARTS = ("render", "voice", "recording")
# a host refusal of a verdict, by its code: the words a person reads instead of the host's (which name rounds and generations)
REFUSALS = {
    "already_judged": ("webapp_already_judged", "webapp_wait_for_new_round"),
    "newer_generation": ("webapp_newer_round", "webapp_wait_for_new_round"),
    "not_passed": ("webapp_not_passed", "webapp_wait_for_new_round"),
    "no_evaluation": ("webapp_review_none", "webapp_wait_for_new_round"),
    "too_many_rejections": ("webapp_too_many_rejections", "webapp_too_many_rejections_advice"),
    "not_approved": ("webapp_not_ready_to_deploy", "webapp_wait_for_new_round"),
}


def standing(found: host_pb.ListRoundsResponse) -> str:
    """none, waiting (for the person's verdict), below (did not pass: only a rejection helps), approved or rejected."""
    if not found.rounds:
        return "none"
    newest = found.rounds[-1]
    if newest.verdict:
        return newest.verdict
    return "waiting" if newest.passed else "below"


def deploy_words(state_: str, can_deploy: bool, language: str) -> str:
    """Why it may or may not go live, in words: the host's reason names rounds and generations."""
    if can_deploy:
        return say("webapp_deploy_ready", language)
    return say({"none": "webapp_deploy_no_round", "waiting": "webapp_deploy_waiting", "below": "webapp_deploy_below"}.get(
        state_, "webapp_deploy_rejected"), language)


async def is_live(host: HostClient, avatar_id: str) -> bool:
    return (await host.endpoint(avatar_id)).HasField("endpoint")


async def review(request: web.Request) -> web.Response:
    host, language = request.app[HOST], person(request).language
    avatar = await owned_avatar(request)
    found = await host.rounds(avatar.avatar_id)
    now = standing(found)
    newest = found.rounds[-1] if found.rounds else None
    base = f"/api/avatars/{avatar.avatar_id}/review"
    headline = (say("webapp_review_rejected", language, adjustment=adjustment(newest.reason, bool(newest.retrain_generation), language,
                                                                              newest.adjustment))
                if now == "rejected" else say(f"webapp_review_{now}", language))
    media = {}
    if newest is not None:
        media = {"render": f"{base}/render" if newest.preview else "",
                 "voice": f"{base}/voice" if newest.voice_preview else "",
                 "recording": f"{base}/recording" if await recording_source(host, avatar.avatar_id, newest) else ""}
    live = await is_live(host, avatar.avatar_id)
    return web.json_response({
        "name": avatar.name, "state": now, "headline": headline,
        "verdict": (verdict_details(json.loads(newest.results_json or "{}"), list(newest.words), language) if newest is not None
                    else {"headline": "", "items": []}),
        "labels": {"render": say("webapp_render", language), "recording": say("webapp_recording", language),
                   "voice": say("voice_preview", language, voice=newest.voice) if newest is not None and newest.voice_preview else ""},
        "media": media,
        "can_approve": now == "waiting", "can_reject": now in ("waiting", "below"),
        "reasons": [{"reason": reason, "label": say(f"reason_{reason}", language)} for reason in REASONS],
        "reject_ask": say("reject_ask", language), "other_ask": say("webapp_other_ask", language),
        "can_deploy": found.can_deploy and not live, "live": live,
        "deploy_words": say("webapp_live_now", language) if live else deploy_words(now, found.can_deploy, language),
    })


async def recording_source(host: HostClient, avatar_id: str, found: host_pb.Round) -> tuple[str, int, int] | None:
    """(the person's video key, first frame, frame after the last) of the moment the round's preview
    renders, from the evaluation run: its `video` input, and the clip its preview names in its report."""
    run = next((r for r in await host.runs(avatar_id) if r.run_id == found.evaluation_run), None)
    if run is None:
        return None
    video = next((a for a in run.inputs if a.kind == VIDEO_KIND), None)
    report = next((a for a in run.outputs if a.kind == REPORT_KIND), None)
    preview = next((a for a in run.outputs if a.kind == PREVIEW_KIND), None)
    clip = json.loads(preview.metadata_json or "{}").get("clip") if preview is not None else None
    if video is None or report is None or clip is None:
        return None
    clips = json.loads(await host.download(report.key)).get("clips") or []
    moment = next((c for c in clips if c.get("id") == clip), None)
    return (video.key, int(moment["start"]), int(moment["stop"])) if moment is not None else None


async def review_media(request: web.Request) -> web.StreamResponse:
    """One of the newest round's videos: its render, the render with another voice, or the real moment."""
    host, who = request.app[HOST], person(request)
    avatar = await owned_avatar(request)
    part = request.match_info["part"]
    found = await host.rounds(avatar.avatar_id)
    newest = found.rounds[-1] if found.rounds else None
    key = {"render": newest.preview, "voice": newest.voice_preview}.get(part, "") if newest is not None else ""
    source = await recording_source(host, avatar.avatar_id, newest) if newest is not None and part == "recording" else None
    if part not in PARTS or not (key or source):
        raise Refused(404, "no_video", say("webapp_review_none", who.language), say("webapp_wait_for_new_round", who.language))

    async def fetched(path: Path) -> None:
        await host.download_to(key, path)

    async def cut(path: Path) -> None:
        video_key, start, stop = source
        with tempfile.TemporaryDirectory(prefix="twinforge-webapp-") as folder:
            video = await host.download_to(video_key, Path(folder) / "video")
            path.write_bytes(await asyncio.to_thread(pictures.clip_preview, video, start, stop))

    made = await request.app[MEDIA].get(f"{newest.evaluation_run}/{part}.mp4", cut if part == "recording" else fetched)
    return served(made)


async def verdict(request: web.Request, call) -> web.Response:
    """Runs the host call; a refusal the host explains in its own terms is answered in the person's."""
    language = person(request).language
    try:
        return await call()
    except HostError as exc:
        if exc.code not in REFUSALS:
            raise
        words, advice = REFUSALS[exc.code]
        return web.json_response({"error": exc.code, "message": say(words, language), "advice": say(advice, language)}, status=409)


async def approve(request: web.Request) -> web.Response:
    host, who = request.app[HOST], person(request)
    avatar = await owned_avatar(request)

    async def call() -> web.Response:
        reply = await host.approve(avatar.avatar_id, state.owner_of(who.user_id))
        return web.json_response({"words": say("approved", who.language), "can_deploy": reply.can_deploy,
                                  "deploy_words": deploy_words("approved", reply.can_deploy, who.language)})

    return await verdict(request, call)


async def reject(request: web.Request) -> web.Response:
    """`reason` is one of the bot's reasons; `other` needs `text`, sent as the rejection's words. A
    wrong clip answers `next: materials`: the page opens the clip picker, where picking another
    clip makes the avatar again with it."""
    host, who = request.app[HOST], person(request)
    avatar = await owned_avatar(request)
    try:
        body = await request.json()
        reason, text = str(body.get("reason", "")), str(body.get("text", "")).strip()
    except (ValueError, AttributeError):
        reason, text = "", ""
    if reason not in REASONS:
        raise Refused(400, "unknown_reason", say("webapp_unknown_reason", who.language, reason=reason), say("webapp_pick_reason", who.language))
    if reason == "other" and not text:
        raise Refused(400, "text_needed", say("webapp_other_ask", who.language), say("webapp_reject_text_needed", who.language))

    async def call() -> web.Response:
        await host.reject(avatar.avatar_id, state.owner_of(who.user_id), reason, text if reason == "other" else "")
        if reason == "wrong_clip":  # the host's words name CLI commands; the clip picker is the way on
            return web.json_response({"words": say("pick_again", who.language), "next": "materials"})
        return web.json_response({"words": say(f"rejected_{reason}", who.language), "next": "progress"})

    return await verdict(request, call)


async def deploy(request: web.Request) -> web.Response:
    """As the bot's Deploy button: the bot follows the avatar (it picks the row up), so the chat says when it is live."""
    host, who = request.app[HOST], person(request)
    avatar = await owned_avatar(request)

    async def call() -> web.Response:
        state.follow(avatar.avatar_id, who.user_id, person_of(who.user_id).chat_id)
        await host.deploy(avatar.avatar_id, state.owner_of(who.user_id))
        return web.json_response({"words": say("deploy_started", who.language), "next": "progress"})

    return await verdict(request, call)


def routes(app: web.Application) -> None:
    app.router.add_get("/api/avatars/{avatar_id}/review", review)
    app.router.add_get("/api/avatars/{avatar_id}/review/{part}", review_media)
    app.router.add_post("/api/avatars/{avatar_id}/approve", approve)
    app.router.add_post("/api/avatars/{avatar_id}/reject", reject)
    app.router.add_post("/api/avatars/{avatar_id}/deploy", deploy)
