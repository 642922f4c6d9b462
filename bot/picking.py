"""Picking the materials (docs/materials.md): after `material_extraction`, each proposed driving
clip as a short silent video of itself and each cover as a photo of its frame, every one with a
button to use it. The stage stores no previews, so they are cut from the submitted video here. A
press is an `interactive_edit` `choose` of the current version."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiogram.types import InlineKeyboardMarkup

from bot import pictures
from bot.catalogue import say
from bot.keyboards import Press, markup
from plugins.material_extraction import words
from twinforge.host.v1 import host_service_pb2 as host_pb

STAGE = "material_extraction"
MATERIALS_KIND = "materials"
MOST = 5  # candidates of each kind shown: the proposals are best first
CAPTION_LIMIT = 1024


@dataclass(frozen=True)
class Candidate:
    kind: str  # "driving" or "cover", the `choose` parameter
    entry: dict


def newest_proposal(runs: list[host_pb.StageRun]) -> host_pb.StageRun | None:
    """The newest succeeded proposal: a retried or rerun extraction replaces the earlier ones."""
    done = [r for r in runs if r.stage == STAGE and r.state == host_pb.STAGE_STATE_SUCCEEDED]
    return max(done, key=lambda r: r.created_at.ToNanoseconds()) if done else None


def candidates(materials: dict) -> list[Candidate]:
    """The driving clips, then the covers, best first."""
    found = []
    for clip in (materials.get("driving_clips") or [])[:MOST]:
        found.append(Candidate("driving", clip))
    for cover in (materials.get("covers") or [])[:MOST]:
        found.append(Candidate("cover", cover))
    return found


def preview(candidate: Candidate, video: Path) -> bytes:
    """A driving clip's MP4, or a cover's JPEG."""
    if candidate.kind == "driving":
        return pictures.clip_preview(video, int(candidate.entry["start"]), int(candidate.entry["stop"]))
    return pictures.jpeg(pictures.frames_at(video, [int(candidate.entry["frame"])])[0])


def caption(candidate: Candidate, materials: dict, language: str) -> str:
    entry = candidate.entry
    chosen = say("chosen_mark", language) if (materials.get("chosen") or {}).get(candidate.kind) == entry.get("id") else ""
    if candidate.kind == "driving":
        fps = float(materials.get("fps") or 25.0)
        text = say("driving_caption", language, clip=entry["id"], seconds=(entry["stop"] - entry["start"]) / fps, chosen=chosen,
                   reason=words.reason(entry, candidate.kind, language))
    else:
        text = say("cover_caption", language, cover=entry["id"], chosen=chosen, reason=words.reason(entry, candidate.kind, language))
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"


def keyboard(user_id: int, avatar_id: str, proposal_run: str, candidate: Candidate, language: str) -> InlineKeyboardMarkup:
    """The candidate's Use button, scoped to the proposal `proposal_run`: a newer proposal makes it stale."""
    label = say("use_clip" if candidate.kind == "driving" else "use_cover", language)
    return markup(user_id, avatar_id, [[Press(label, "choose", f"{candidate.kind}:{candidate.entry['id']}")]], scope=proposal_run)
