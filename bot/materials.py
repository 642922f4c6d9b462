"""The cut-out review (docs/materials-editing.md): after the cut-out and after every edit, the
current version's preview with buttons for the edits a person can make by pressing: keep or remove
each offered region, despill less or more, undo (back to the version it was made from)."""

from __future__ import annotations

import json

from aiogram.types import InlineKeyboardMarkup

from bot.catalogue import say
from bot.keyboards import button
from twinforge.host.v1 import host_service_pb2 as host_pb

CUTOUT_STAGE, EDIT_STAGE = "cutout", "interactive_edit"
PREVIEW_KIND = "cutout_preview"
DESPILL_STEP = 0.25
DEFAULT_DESPILL = 1.0


def despill_of(versions: list[host_pb.MaterialVersion], number: int) -> float:
    """The despill strength of version `number`, followed back through the edits that made it."""
    by_number = {v.version: v for v in versions}
    seen: set[int] = set()
    while number in by_number and number not in seen:
        seen.add(number)
        edit = by_number[number].edit
        parameters = json.loads(edit.parameters_json or "{}")
        if edit.operation == "despill":
            return float(parameters["strength"])
        number = int(parameters["to_version"]) if edit.operation == "revert" else edit.based_on
    return DEFAULT_DESPILL


def regions_of(runs: list[host_pb.StageRun]) -> list[str]:
    """The region ids the newest succeeded cut-out offers to keep."""
    done = [r for r in runs if r.stage == CUTOUT_STAGE and r.state == host_pb.STAGE_STATE_SUCCEEDED]
    if not done:
        return []
    newest = max(done, key=lambda r: r.updated_at.ToNanoseconds())
    return [region["id"] for region in json.loads(newest.summary_json or "{}").get("regions", [])]


def caption(current: host_pb.MaterialVersion, language: str) -> str:
    words = f" ({current.edit.words})" if current.edit.words else ""
    return say("cutout_preview", language, version=current.version, words=words)


def keyboard(user_id: int, avatar_id: str, versions: list[host_pb.MaterialVersion], current: host_pb.MaterialVersion,
             regions: list[str], language: str) -> InlineKeyboardMarkup:
    rows = [[button(user_id, say("keep_region", language, region=r), "region", avatar_id, f"keep:{r}"),
             button(user_id, say("remove_region", language, region=r), "region", avatar_id, f"remove:{r}")] for r in regions]
    strength = despill_of(versions, current.version)
    despill = []
    if strength > 0:
        despill.append(button(user_id, say("despill_less", language), "despill", avatar_id, f"{max(0.0, strength - DESPILL_STEP):g}"))
    if strength < 1:
        despill.append(button(user_id, say("despill_more", language), "despill", avatar_id, f"{min(1.0, strength + DESPILL_STEP):g}"))
    rows.append(despill)
    if current.version > 1:
        back_to = current.edit.based_on or current.version - 1
        rows.append([button(user_id, say("undo", language), "undo", avatar_id, str(back_to))])
    return InlineKeyboardMarkup(inline_keyboard=rows)
