"""The materials page: the proposed driving clips and covers as a gallery, each playing its preview
with the reason it was proposed, and a button to use it: the same proposal, previews and words as
the bot's picker (bot.picking), and the same call, an `interactive_edit` `choose`. The previews are
cut from the person's video once per proposal (all of them together, so the video is fetched once)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from aiohttp import web

from bot import picking, state
from bot.catalogue import say
from bot.notifications import VIDEO_KIND
from bot.webapp.api import HOST, owned_avatar, person
from bot.webapp.auth import Refused
from bot.webapp.media import MEDIA, served
from twinforge.host.v1 import host_service_pb2 as host_pb


def suffix(candidate: picking.Candidate) -> str:
    return ".mp4" if candidate.kind == "driving" else ".jpg"


def file_name(candidate: picking.Candidate) -> str:
    return f"{candidate.kind}-{candidate.entry['id']}{suffix(candidate)}"


async def proposal(request: web.Request, avatar: host_pb.Avatar) -> tuple[host_pb.StageRun | None, dict]:
    """The newest proposal's run and its content ({} when there is none yet)."""
    host = request.app[HOST]
    run = picking.newest_proposal(await host.runs(avatar.avatar_id))
    proposed = next((a for a in run.outputs if a.kind == picking.MATERIALS_KIND), None) if run else None
    if proposed is None:
        return None, {}
    return run, json.loads(await host.download(proposed.key))


def find(found: dict, kind: str, candidate_id: str) -> picking.Candidate | None:
    return next((c for c in picking.candidates(found) if c.kind == kind and str(c.entry.get("id")) == candidate_id), None)


async def materials(request: web.Request) -> web.Response:
    language = person(request).language
    avatar = await owned_avatar(request)
    run, found = await proposal(request, avatar)
    offered = picking.candidates(found)
    items = []
    for candidate in offered:
        title, _, reason = picking.caption(candidate, found, language).partition("\n")
        items.append({"kind": candidate.kind, "id": candidate.entry["id"], "title": title, "reason": reason,
                      "chosen": (found.get("chosen") or {}).get(candidate.kind) == candidate.entry.get("id"),
                      "preview": f"/api/avatars/{avatar.avatar_id}/materials/{candidate.kind}/{candidate.entry['id']}",
                      "button": say("use_clip" if candidate.kind == "driving" else "use_cover", language)})
    return web.json_response({"name": avatar.name, "intro": say("webapp_materials_intro" if items else "webapp_materials_none", language),
                              "items": items})


async def preview(request: web.Request) -> web.StreamResponse:
    who = person(request)
    avatar = await owned_avatar(request)
    run, found = await proposal(request, avatar)
    candidate = find(found, request.match_info["kind"], request.match_info["candidate"])
    video = next((a for a in run.inputs if a.kind == VIDEO_KIND), None) if run else None
    if candidate is None or video is None:
        raise Refused(404, "no_candidate", say("webapp_no_candidate", who.language), say("webapp_no_candidate_advice", who.language))
    cache = request.app[MEDIA]

    async def cut_all(path: Path) -> None:
        """Every candidate's preview from one download of the video: the one asked for into `path`, the others beside it."""
        with tempfile.TemporaryDirectory(prefix="twinforge-webapp-") as folder:
            source = await request.app[HOST].download_to(video.key, Path(folder) / "video")
            for other in picking.candidates(found):
                target = path if other == candidate else cache.folder / run.run_id / file_name(other)
                if other == candidate or not target.exists():
                    made = await asyncio.to_thread(picking.preview, other, source)
                    partial = target.with_name(f"{target.name}.cut")
                    partial.write_bytes(made)
                    partial.replace(target)

    return served(await cache.get(f"{run.run_id}/{file_name(candidate)}", cut_all))


async def choose(request: web.Request) -> web.Response:
    """As the bot's Use this clip / Use this cover: the cut-out is made anew with it, as the next version."""
    who = person(request)
    avatar = await owned_avatar(request)
    try:
        body = await request.json()
        kind, candidate_id = str(body.get("kind", "")), str(body.get("id", ""))
    except (ValueError, AttributeError):
        kind, candidate_id = "", ""
    _, found = await proposal(request, avatar)
    if find(found, kind, candidate_id) is None:
        raise Refused(400, "no_candidate", say("webapp_no_candidate", who.language), say("webapp_no_candidate_advice", who.language))
    reply = await request.app[HOST].edit_materials(avatar.avatar_id, state.owner_of(who.user_id), "choose", {kind: candidate_id})
    return web.json_response({"words": say("editing", who.language, version=reply.version), "next": "progress"})


def routes(app: web.Application) -> None:
    app.router.add_get("/api/avatars/{avatar_id}/materials", materials)
    app.router.add_get("/api/avatars/{avatar_id}/materials/{kind}/{candidate}", preview)
    app.router.add_post("/api/avatars/{avatar_id}/materials/choose", choose)
