"""The cut-out review (docs/materials-editing.md): after the cut-out and after every edit, the
current version's preview with buttons for the edits a person can make by pressing: keep or remove
each offered region, key out one of the recorded background's dominant colours, despill less or
more, undo (back to the version it was made from). A picture sent meanwhile becomes the new
background (bot.handlers.background)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from aiogram.types import InlineKeyboardMarkup

from bot.catalogue import say
from bot.keyboards import Press, markup
from twinforge.host.v1 import host_service_pb2 as host_pb

CUTOUT_STAGE, EDIT_STAGE = "cutout", "interactive_edit"
PREVIEW_KIND = "cutout_preview"
DESPILL_STEP = 0.25
DEFAULT_DESPILL = 1.0


def lineage(versions: list[host_pb.MaterialVersion], number: int) -> Iterator[tuple[str, dict]]:
    """(operation, parameters) of the edits that made version `number`, newest first, followed back
    through undos to the cut-out."""
    by_number = {v.version: v for v in versions}
    seen: set[int] = set()
    while number in by_number and number not in seen:
        seen.add(number)
        edit = by_number[number].edit
        parameters = json.loads(edit.parameters_json or "{}")
        yield edit.operation, parameters
        number = int(parameters["to_version"]) if edit.operation == "revert" else edit.based_on


def despill_of(versions: list[host_pb.MaterialVersion], number: int) -> float:
    """The despill strength of version `number`: the newest despill edit that made it."""
    return next((float(p["strength"]) for operation, p in lineage(versions, number) if operation == "despill"), DEFAULT_DESPILL)


def keyed_of(versions: list[host_pb.MaterialVersion], number: int) -> set[tuple[int, int, int]]:
    """The colours already keyed out in version `number`, whose buttons would change nothing."""
    return {(int(r), int(g), int(b)) for operation, p in lineage(versions, number) if operation == "key_colour" for r, g, b in p["colours"]}


def cutout_summary(runs: list[host_pb.StageRun]) -> dict:
    """The summary of the newest succeeded cut-out: what it offers (regions to keep, colours to key
    out) holds for every version edited from it."""
    done = [r for r in runs if r.stage == CUTOUT_STAGE and r.state == host_pb.STAGE_STATE_SUCCEEDED]
    if not done:
        return {}
    return json.loads(max(done, key=lambda r: r.updated_at.ToNanoseconds()).summary_json or "{}")


def regions_of(summary: dict) -> list[str]:
    """The region ids the cut-out offers to keep."""
    return [region["id"] for region in summary.get("regions", [])]


def colours_of(summary: dict) -> list[tuple[int, int, int]]:
    """The recorded background's dominant colours, [r, g, b], the largest share first."""
    return [(int(r), int(g), int(b)) for r, g, b in summary.get("background_colours", [])]


def hex_of(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


SWATCHES = {"🟥": (221, 46, 68), "🟧": (244, 144, 12), "🟨": (253, 203, 88), "🟩": (120, 177, 89), "🟦": (85, 172, 238),
            "🟪": (170, 142, 214), "🟫": (193, 105, 79)}
GREY_SPREAD = 32  # a colour whose channels differ less than this is a grey, shown black or white


def swatch(colour: tuple[int, int, int]) -> str:
    """The coloured square emoji nearest to `colour`: a button's text cannot be coloured, and a hex
    code alone tells a person little. There is no grey square, so a grey wall is ⬛ or ⬜."""
    if max(colour) - min(colour) < GREY_SPREAD:
        return "⬛" if sum(colour) < 3 * 128 else "⬜"
    return min(SWATCHES, key=lambda square: sum((a - b) ** 2 for a, b in zip(SWATCHES[square], colour)))


def caption(current: host_pb.MaterialVersion, language: str) -> str:
    words = f" ({current.edit.words})" if current.edit.words else ""
    return say("cutout_preview", language, version=current.version, words=words)


def keyboard(user_id: int, avatar_id: str, versions: list[host_pb.MaterialVersion], current: host_pb.MaterialVersion,
             summary: dict, language: str) -> InlineKeyboardMarkup:
    """The edits of the `current` version, scoped to it: once a newer version is current, these buttons are stale."""
    rows = [[Press(say("keep_region", language, region=r), "region", f"keep:{r}"), Press(say("remove_region", language, region=r), "region", f"remove:{r}")]
            for r in regions_of(summary)]
    rows += [[Press(say("key_colour", language, swatch=swatch(c), hex=hex_of(c)), "key_colour", ",".join(map(str, c)))]
             for c in colours_of(summary) if c not in keyed_of(versions, current.version)]
    strength = despill_of(versions, current.version)
    despill = []
    if strength > 0:
        despill.append(Press(say("despill_less", language), "despill", f"{max(0.0, strength - DESPILL_STEP):g}"))
    if strength < 1:
        despill.append(Press(say("despill_more", language), "despill", f"{min(1.0, strength + DESPILL_STEP):g}"))
    rows.append(despill)
    if current.version > 1:
        back_to = current.edit.based_on or current.version - 1
        rows.append([Press(say("undo", language), "undo", str(back_to))])
    return markup(user_id, avatar_id, rows, scope=current.run_id)
