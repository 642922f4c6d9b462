"""The cut-out editor of the materials page (docs/materials-editing.md): the current version's cover
frame cut out and put over its background, beside the original frame for a before/after slider,
the versions with undo and redo, and the edits a person makes on the picture: tap or brush to keep
or remove, tap a colour to key it out, the spill removal, a background colour or picture. Each edit
is the host's `EditMaterials` (a queued `interactive_edit` run that makes the next version), as the
bot's buttons send them (bot.handlers.buttons, bot.handlers.background); going back to a version is
`RevertMaterials`. The page polls this editor's state while the run is under way.

Points come from the page normalised to the picture (0..1 across and down) and are turned into the
frame's pixels here, so the page never needs the frame's size. The pictures are made once per
version (the original frame once per video and cover) and kept in the media cache."""

from __future__ import annotations

import asyncio
import json
import math
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from aiohttp import web

from bot import pictures, state
from bot.catalogue import say
from bot.handlers.background import IMAGE_KIND, MAX_IMAGE_BYTES, is_picture, once
from bot.handlers.upload import megabytes
from bot.materials import DEFAULT_DESPILL, EDIT_STAGE, despill_of, hex_of, lineage
from bot.notifications import VIDEO_KIND
from bot.webapp.api import HOST, owned_avatar, person
from bot.webapp.auth import Refused
from bot.webapp.media import MEDIA, served
from plugins.cutout.render import backdrop, composite
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

CUTOUT_KIND, FRAMES_KIND = "cutout", "cutout_frames"
SHOWN_LONGEST = 720  # the pictures' longer side on the page: sharp on a phone, small enough to load at once
SAMPLE_RADIUS = 2  # a tapped colour is the median of the (2r+1)^2 pixels around the tap, not one noisy pixel
MOST_STROKE_POINTS = 2000
WIDEST_BRUSH = 0.5  # a brush at most half the picture wide (the page's is 5%)
HEX_COLOUR = re.compile(r"#([0-9a-fA-F]{6})")
UNDER_WAY = (host_pb.STAGE_STATE_PENDING, host_pb.STAGE_STATE_QUEUED, host_pb.STAGE_STATE_RUNNING)
GONE_WRONG = (host_pb.STAGE_STATE_FAILED, host_pb.STAGE_STATE_CANCELLED)


@dataclass(frozen=True)
class Moves:
    """Where the person stands in their history of edits: `shown` is the version whose cut-out the
    current one is (a revert's target, followed back), `undo` and `redo` the versions those buttons
    go back to (None: nothing to undo or redo)."""

    shown: int
    undo: int | None
    redo: int | None


def same_as(by_number: dict[int, host_pb.MaterialVersion], number: int) -> int:
    """The version a revert restored, followed through reverts of reverts: the one whose cut-out it is."""
    seen: set[int] = set()
    while number in by_number and by_number[number].edit.operation == "revert" and number not in seen:
        seen.add(number)
        number = int(json.loads(by_number[number].edit.parameters_json or "{}").get("to_version", number))
    return number


def moves(versions: list[host_pb.MaterialVersion]) -> Moves | None:
    """Undo and redo as a person expects them, read from the versions alone (every undo and redo is
    a revert, a new version): the edits so far as an undo stack and what was undone as a redo stack.
    A revert to the undo stack's top is an undo, to the redo stack's top a redo, to what is shown
    nothing; any other revert (the bot's undo of an undo, a version picked from the list) and any
    edit is a new step, which forgets what could be redone. None without a cut-out."""
    by_number = {v.version: v for v in versions}
    shown: int | None = None
    past: list[int] = []
    future: list[int] = []
    for version in sorted(versions, key=lambda v: v.version):
        if version.edit.operation != "revert" or shown is None:
            target, step = version.version, "new"
        else:
            target = same_as(by_number, version.version)
            if target == shown:
                continue
            step = "undo" if past and past[-1] == target else "redo" if future and future[-1] == target else "new"
        if step == "undo":
            future.append(shown)
            past.pop()
        elif step == "redo":
            past.append(shown)
            future.pop()
        else:
            if shown is not None:
                past.append(shown)
            future.clear()
        shown = target
    if shown is None:
        return None
    return Moves(shown, past[-1] if past else None, future[-1] if future else None)


def version_words(versions: list[host_pb.MaterialVersion], version: host_pb.MaterialVersion, language: str) -> str:
    """What made the version, in the person's words (the edit log's own words are the platform's, in English)."""
    edit = version.edit
    parameters = json.loads(edit.parameters_json or "{}")
    operation = edit.operation
    if operation == "cutout":
        words = say("cutout_op_cutout", language)
    elif operation == "key_colour":
        words = say("cutout_op_key", language, colours=", ".join(hex_of(tuple(int(c) for c in colour)) for colour in parameters.get("colours", [])))
    elif operation == "region":
        shape = "brush" if "stroke" in parameters else "region"
        words = say(f"cutout_op_{parameters.get('action', 'keep')}_{shape}", language)
    elif operation == "trimap_points":
        kept, removed = len(parameters.get("include", [])), len(parameters.get("exclude", []))
        words = say("cutout_op_keep_spot" if not removed else "cutout_op_remove_spot" if not kept else "cutout_op_spots", language,
                    count=kept + removed)
    elif operation == "despill":
        words = say("cutout_op_despill", language, percent=round(100 * float(parameters.get("strength", DEFAULT_DESPILL))))
    elif operation == "background":
        if "colour" in parameters:
            words = say("cutout_op_colour", language, colour=hex_of(tuple(int(c) for c in parameters["colour"])))
        else:
            words = say("cutout_op_picture" if parameters.get("image") else "cutout_op_recorded", language)
    elif operation in ("trim", "choose"):
        words = say(f"cutout_op_{operation}", language)
    elif operation == "revert":
        words = say("cutout_op_revert", language, version=same_as({v.version: v for v in versions}, version.version))
    else:
        words = say("cutout_op_other", language)
    return say("cutout_version", language, version=version.version, words=words)


def background_of(versions: list[host_pb.MaterialVersion], number: int) -> str:
    """The background colour of version `number` as #rrggbb, "" for the recorded one or a picture."""
    for operation, parameters in lineage(versions, number):
        if operation == "background":
            return hex_of(tuple(int(c) for c in parameters["colour"])) if "colour" in parameters else ""
    return ""


def refuse(status: int, code: str, language: str, **values: object) -> Refused:
    return Refused(status, code, say(f"cutout_{code}", language, **values), say(f"cutout_{code}_advice", language))


def file_of(version: host_pb.MaterialVersion, kind: str) -> plugin_pb.ArtifactRef:
    return next(f for f in version.files if f.kind == kind)


def frame_size(version: host_pb.MaterialVersion) -> tuple[int, int]:
    metadata = json.loads(file_of(version, CUTOUT_KIND).metadata_json or "{}")
    return int(metadata["width"]), int(metadata["height"])


def shown_size(picture: np.ndarray) -> np.ndarray:
    scale = SHOWN_LONGEST / max(picture.shape[:2])
    if scale >= 1:
        return picture
    return cv2.resize(picture, (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale))), interpolation=cv2.INTER_AREA)


def cut_out_cover(frames_zip: Path, cutout_npz: Path) -> np.ndarray:
    """RGB: the version's cover frame as the cut-out left it (its RGBA PNG, despilled), over the
    version's background, or over a checkerboard where it keeps the recorded one (as its preview shows it)."""
    with zipfile.ZipFile(frames_zip) as archive:
        name = next(n for n in archive.namelist() if n.startswith("cover_"))
        bgra = cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_UNCHANGED)
    with np.load(cutout_npz, allow_pickle=False) as data:
        background = data["background"] if "background" in data.files else None
    colours, alpha = cv2.cvtColor(bgra[..., :3], cv2.COLOR_BGR2RGB), bgra[..., 3]
    return composite(colours, alpha, backdrop(background, alpha.shape[1], alpha.shape[0]))


def point_of(value: object, language: str) -> tuple[float, float]:
    """A point of the picture, (x, y) each 0..1, or 400."""
    try:
        x, y = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise refuse(400, "bad_point", language) from None
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise refuse(400, "bad_point", language)
    return x, y


def stroke_of(body: dict, language: str) -> tuple[list[tuple[float, float]], float]:
    """A brush stroke's points on the picture and the brush's width (a share of the picture's width), or 400."""
    stroke, brush = body.get("stroke"), body.get("brush")
    if not isinstance(stroke, list) or not 1 <= len(stroke) <= MOST_STROKE_POINTS:
        raise refuse(400, "bad_stroke", language)
    try:
        width = float(brush)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise refuse(400, "bad_stroke", language) from None
    if not 0.0 < width <= WIDEST_BRUSH:
        raise refuse(400, "bad_stroke", language)
    try:
        return [point_of(p, language) for p in stroke], width
    except Refused:
        raise refuse(400, "bad_stroke", language) from None


class Editor:
    """One request's view of the avatar's cut-out: its versions and runs, fetched once."""

    def __init__(self, request: web.Request, avatar: host_pb.Avatar, versions: list[host_pb.MaterialVersion], runs: list[host_pb.StageRun]) -> None:
        self.request, self.avatar, self.versions, self.runs = request, avatar, versions, runs
        self.language = person(request).language

    @classmethod
    async def load(cls, request: web.Request) -> Editor:
        avatar = await owned_avatar(request)
        host = request.app[HOST]
        versions, runs = await asyncio.gather(host.material_versions(avatar.avatar_id), host.runs(avatar.avatar_id))
        return cls(request, avatar, versions, runs)

    @property
    def current(self) -> host_pb.MaterialVersion | None:
        return next((v for v in self.versions if v.current), None)

    def under_way(self) -> host_pb.StageRun | None:
        """The edit being made now, if any: the host takes one at a time."""
        return next((r for r in self.runs if r.stage == EDIT_STAGE and r.state in UNDER_WAY), None)

    def failed_since(self, current: host_pb.MaterialVersion) -> bool:
        """Whether the newest edit, asked for after the current version was made, did not work out."""
        edits = [r for r in self.runs if r.stage == EDIT_STAGE]
        newest = max(edits, key=lambda r: r.created_at.ToNanoseconds(), default=None)
        return newest is not None and newest.state in GONE_WRONG and newest.created_at.ToNanoseconds() > current.created_at.ToNanoseconds()

    def version(self, number: int) -> host_pb.MaterialVersion:
        found = next((v for v in self.versions if v.version == number), None)
        if found is None:
            raise refuse(404, "unknown_version", self.language, version=number)
        return found

    def editable(self) -> host_pb.MaterialVersion:
        """The current version, when an edit may start now: 409 without a cut-out or while one is being made."""
        current = self.current
        if current is None:
            raise refuse(409, "none", self.language)
        if self.under_way() is not None:
            raise refuse(409, "busy", self.language)
        return current

    def described(self) -> dict:
        language, current = self.language, self.current
        if current is None:
            return {"ready": False, "intro": say("cutout_none", language)}
        where = moves(self.versions)
        by_number = {v.version: v for v in self.versions}
        base = f"/api/avatars/{self.avatar.avatar_id}/cutout/{current.version}"
        running = self.under_way()
        busy = ""
        if running is not None:
            making = int(json.loads(running.parameters_json or "{}").get("version", current.version + 1))
            busy = say("cutout_busy_words", language, version=making, percent=round(100 * running.progress))
        return {
            "ready": True, "intro": say("cutout_intro", language), "version": current.version,
            "after": f"{base}/after.jpg", "before": f"{base}/before.jpg",
            "despill": despill_of(self.versions, current.version), "colour": background_of(self.versions, current.version),
            "undo": where.undo, "redo": where.redo,
            "versions": [{"version": v.version, "words": version_words(self.versions, v, language), "current": v.current,
                          "same": same_as(by_number, v.version) == where.shown} for v in reversed(self.versions)],
            "busy": busy, "progress": running.progress if running else 0.0,
            "failed": say("cutout_failed", language) if running is None and self.failed_since(current) else "",
        }

    def video_of(self, version: host_pb.MaterialVersion) -> plugin_pb.ArtifactRef:
        """The person's video the version was cut from: an input of the run that made it."""
        run = next((r for r in self.runs if r.run_id == version.run_id), None)
        video = next((a for a in run.inputs if a.kind == VIDEO_KIND), None) if run else None
        if video is None:
            raise refuse(404, "unknown_version", self.language, version=version.version)
        return video

    async def after(self, version: host_pb.MaterialVersion) -> Path:
        host = self.request.app[HOST]

        async def make(path: Path) -> None:
            with tempfile.TemporaryDirectory(prefix="twinforge-webapp-") as folder:
                frames = await host.download_to(file_of(version, FRAMES_KIND).key, Path(folder) / "frames.zip")
                cutout = await host.download_to(file_of(version, CUTOUT_KIND).key, Path(folder) / "cutout.npz")
                picture = await asyncio.to_thread(cut_out_cover, frames, cutout)
            path.write_bytes(pictures.jpeg(shown_size(picture)))

        return await self.request.app[MEDIA].get(f"cutout/{version.run_id}/after.jpg", make)

    async def before(self, version: host_pb.MaterialVersion) -> Path:
        """The cover frame as recorded: made once per video and cover, whichever version asks."""
        video = self.video_of(version)
        cover = int(json.loads(file_of(version, CUTOUT_KIND).metadata_json or "{}").get("cover", 0))
        host = self.request.app[HOST]

        async def make(path: Path) -> None:
            with tempfile.TemporaryDirectory(prefix="twinforge-webapp-") as folder:
                source = await host.download_to(video.key, Path(folder) / "video")
                frame = (await asyncio.to_thread(pictures.frames_at, source, [cover]))[0]
            path.write_bytes(pictures.jpeg(shown_size(frame)))

        return await self.request.app[MEDIA].get(f"cutout/{video.sha256 or video.key.replace('/', '_')}-{cover}/before.jpg", make)

    async def colour_at(self, version: host_pb.MaterialVersion, point: tuple[float, float]) -> list[int]:
        """The recorded colour where the person tapped, from the original frame as the page shows it."""
        path = await self.before(version)
        rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        x, y = min(width - 1, int(point[0] * width)), min(height - 1, int(point[1] * height))
        patch = rgb[max(0, y - SAMPLE_RADIUS) : y + SAMPLE_RADIUS + 1, max(0, x - SAMPLE_RADIUS) : x + SAMPLE_RADIUS + 1]
        return [int(v) for v in np.median(patch.reshape(-1, 3), axis=0)]

    async def edit(self, operation: str, arguments: dict, image=None) -> web.Response:
        reply = await self.request.app[HOST].edit_materials(self.avatar.avatar_id, state.owner_of(person(self.request).user_id), operation, arguments, image)
        return web.json_response({"words": say("editing", self.language, version=reply.version), "version": reply.version})


async def editor(request: web.Request) -> web.Response:
    return web.json_response((await Editor.load(request)).described())


async def picture(request: web.Request) -> web.StreamResponse:
    found = await Editor.load(request)
    try:
        number = int(request.match_info["version"])
    except ValueError:
        raise refuse(404, "unknown_version", found.language, version=request.match_info["version"]) from None
    version = found.version(number)
    return served(await (found.after(version) if request.match_info["which"] == "after" else found.before(version)))


async def edit(request: web.Request) -> web.Response:
    """An edit made on the picture: {"tool": "keep" | "remove", "point": [x, y]} (a tap: the patch
    of like colour around it, nearby), {"tool": "keep" | "remove", "stroke": [[x, y], ...], "brush": w}
    (what the brush covered; its width a share of the picture's width), {"tool": "key", "point"}
    (the colour there, taken out everywhere), {"tool": "despill", "strength": 0..1},
    {"tool": "colour", "colour": "#rrggbb"} or {"tool": "recorded"} (the background)."""
    found = await Editor.load(request)
    language = found.language
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise refuse(400, "unknown_tool", language, tool="")
    tool = str(body.get("tool", ""))
    if tool not in ("keep", "remove", "key", "despill", "colour", "recorded"):
        raise refuse(400, "unknown_tool", language, tool=tool[:40])
    current = found.editable()
    width, height = frame_size(current)
    if tool in ("keep", "remove") and "stroke" in body:
        stroke, brush = stroke_of(body, language)
        pixels = [[round(x * width, 1), round(y * height, 1)] for x, y in stroke]
        return await found.edit("region", {"action": tool, "stroke": pixels, "brush": round(max(1.0, brush * width), 1)})
    if tool in ("keep", "remove"):
        x, y = point_of(body.get("point"), language)
        return await found.edit("trimap_points", {"include" if tool == "keep" else "exclude": [[round(x * width, 1), round(y * height, 1)]]})
    if tool == "key":
        colour = await found.colour_at(current, point_of(body.get("point"), language))
        return await found.edit("key_colour", {"colours": [colour]})
    if tool == "despill":
        try:
            strength = float(body.get("strength"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            strength = math.nan
        if not 0.0 <= strength <= 1.0:
            raise refuse(400, "bad_strength", language)
        return await found.edit("despill", {"strength": strength})
    if tool == "colour":
        matched = HEX_COLOUR.fullmatch(str(body.get("colour", "")).strip())
        if matched is None:
            raise refuse(400, "bad_colour", language, colour=str(body.get("colour", ""))[:20])
        value = int(matched[1], 16)
        return await found.edit("background", {"colour": [value >> 16, (value >> 8) & 255, value & 255]})
    return await found.edit("background", {"recorded": True})


async def background(request: web.Request) -> web.Response:
    """A picture to put behind the person: the request's body is the picture itself (at most the
    bot's limit for one), stored with the host as a `background_image` upload, as the bot does with
    a photo sent in the chat."""
    found = await Editor.load(request)
    language = found.language
    found.editable()
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > MAX_IMAGE_BYTES:
            raise refuse(413, "picture_too_big", language, limit=megabytes(MAX_IMAGE_BYTES))
    data = bytes(data)
    if not data or not is_picture(data):
        raise refuse(400, "not_a_picture", language)
    image = await request.app[HOST].upload(found.avatar.avatar_id, IMAGE_KIND, "background", once(data))
    return await found.edit("background", {"image": True}, image)


async def revert(request: web.Request) -> web.Response:
    """Undo, redo, or back to any version picked from the list: a new version equal to the one asked for."""
    found = await Editor.load(request)
    try:
        body = await request.json()
        number = int(body["version"])
    except (ValueError, KeyError, TypeError):
        raise refuse(400, "no_version", found.language) from None
    found.editable()
    if number not in {v.version for v in found.versions}:
        raise refuse(400, "unknown_version", found.language, version=number)
    reply = await request.app[HOST].revert_materials(found.avatar.avatar_id, state.owner_of(person(request).user_id), number)
    return web.json_response({"words": say("editing", found.language, version=reply.version), "version": reply.version})


def routes(app: web.Application) -> None:
    app.router.add_get("/api/avatars/{avatar_id}/cutout", editor)
    app.router.add_get("/api/avatars/{avatar_id}/cutout/{version}/{which:after|before}.jpg", picture)
    app.router.add_post("/api/avatars/{avatar_id}/cutout/edit", edit)
    app.router.add_post("/api/avatars/{avatar_id}/cutout/background", background)
    app.router.add_post("/api/avatars/{avatar_id}/cutout/revert", revert)
