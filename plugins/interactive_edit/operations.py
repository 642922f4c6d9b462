"""The edits a person makes to the materials from the bot, each a pure change of the recipe, the
materials or the background, and the words the edit log shows for it.

Every operation checks its own arguments: the parameters' schema says what each argument looks
like, and this says which ones an operation needs, in words the bot can show.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from plugins.cutout.recipe import KEY_TOLERANCE
from plugins.cutout.render import fit_image
from plugins.sdk.errors import StageFailed

OPERATIONS = ("key_colour", "region", "trimap_points", "despill", "background", "trim", "choose", "revert")
MIN_CLIP_SECONDS = 1.0  # a trimmed clip keeps at least this much: a shorter one loops visibly


@dataclass(frozen=True)
class Edited:
    recipe: dict[str, Any]
    materials: dict[str, Any]
    background: np.ndarray | None
    words: str  # the edit log's line


def bad(message: str, advice: str) -> StageFailed:
    return StageFailed("bad_parameters", message, advice)


def apply_edit(
    operation: str, args: dict[str, Any], recipe: dict[str, Any], materials: dict[str, Any],
    background: np.ndarray | None, regions: list[dict[str, Any]], size: tuple[int, int], image: bytes | None,
) -> Edited:
    """The recipe, materials and background after the edit (the inputs are left as they were)."""
    recipe, materials = copy.deepcopy(recipe), copy.deepcopy(materials)
    if operation == "key_colour":
        if not args.get("colours"):
            raise bad("key_colour needs the colours to key out", "pick one or more colours on the cover picture")
        tolerance = float(args.get("tolerance", KEY_TOLERANCE))
        recipe["key_colours"] += [{"colour": [float(c) for c in colour], "tolerance": tolerance} for colour in args["colours"]]
        words = f"keyed out {len(args['colours'])} colour(s) within {tolerance:g}"
    elif operation == "region":
        region = region_of(args, regions)
        recipe["regions"].append(region)
        done = "kept" if region["action"] == "keep" else "removed"
        if "stroke" in region:
            words = f"{done} a brushed area ({len(region['stroke'])} point(s), {region['brush']:g} px wide)"
        else:
            words = f"{done} the region at {region.get('box') or region.get('point')}"
    elif operation == "trimap_points":
        include, exclude = args.get("include", []), args.get("exclude", [])
        if not include and not exclude:
            raise bad("trimap_points needs points to include or to exclude", "tap where the cut-out is wrong")
        recipe["include"] += [[float(x), float(y)] for x, y in include]
        recipe["exclude"] += [[float(x), float(y)] for x, y in exclude]
        words = f"marked {len(include)} point(s) as person and {len(exclude)} as background"
    elif operation == "despill":
        if "strength" not in args:
            raise bad("despill needs a strength from 0 to 1", "choose 0 for the recorded colours, 1 to remove all the spill")
        recipe["despill"] = float(args["strength"])
        words = f"set the spill removal to {recipe['despill']:g}"
    elif operation == "background":
        background, words = new_background(args, size, image)
    elif operation == "trim":
        words = trim(materials, args)
    elif operation == "choose":
        words = choose(materials, args)
    else:
        raise bad(f"unknown operation {operation!r}", f"use one of {', '.join(OPERATIONS)}")
    return Edited(recipe, materials, background, words)


def region_of(args: dict[str, Any], regions: list[dict[str, Any]]) -> dict[str, Any]:
    """{action, point | box | stroke and brush}: a region named by an offered region's id, a point,
    a box, or the points of a brush stroke with the brush's width."""
    action = args.get("action")
    if action not in ("keep", "remove"):
        raise bad("region needs an action, keep or remove", "say whether the region belongs to the picture or not")
    if "region" in args:
        offered = next((r for r in regions if r["id"] == args["region"]), None)
        if offered is None:
            raise bad(f"there is no offered region {args['region']!r}", f"use one of {', '.join(r['id'] for r in regions) or 'none'}, or tap the region")
        return {"action": action, "point": offered["point"]}
    if "box" in args:
        return {"action": action, "box": [float(v) for v in args["box"]]}
    if "stroke" in args:
        if "brush" not in args:
            raise bad("a brushed region needs the brush's width", "brush over the area again")
        return {"action": action, "stroke": [[float(x), float(y)] for x, y in args["stroke"]], "brush": float(args["brush"])}
    if "point" in args:
        return {"action": action, "point": [float(v) for v in args["point"]]}
    raise bad("region needs a region id, a point, a box or a brush stroke", "tap the region, or brush over it")


def new_background(args: dict[str, Any], size: tuple[int, int], image: bytes | None) -> tuple[np.ndarray | None, str]:
    if "colour" in args:
        colour = np.array([int(round(c)) for c in args["colour"]], np.uint8)
        return colour, f"set the background to the colour {colour.tolist()}"
    if args.get("image"):
        if image is None:
            raise bad("the background image was not given", "send the picture, then choose it as the background")
        decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise bad("the background image cannot be read", "send a JPEG or PNG picture")
        return fit_image(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), *size), "set a picture as the background"
    if args.get("recorded"):
        return None, "went back to the recorded background"
    raise bad("background needs a colour, an image or recorded: true", "pick a colour, send a picture, or keep the recorded background")


def trim(materials: dict[str, Any], args: dict[str, Any]) -> str:
    """Moves a clip's ends. A trimmed test clip's new frames are excluded from training too, and
    its old ones stay excluded: frames acceptance may have seen are never trained on."""
    if "start" not in args or "stop" not in args:
        raise bad("trim needs the start and stop frames", "choose where the clip begins and ends")
    wanted = args.get("clip") or (materials.get("chosen") or {}).get("driving")
    for section in ("driving_clips", "test_clips"):
        clip = next((c for c in materials.get(section) or [] if c.get("id") == wanted), None)
        if clip is not None:
            break
    else:
        raise bad(f"there is no clip {wanted!r} in the materials", "trim the chosen driving clip or one of the test clips")
    start, stop = int(args["start"]), int(args["stop"])
    shortest = int(round(MIN_CLIP_SECONDS * float(materials.get("fps", 25.0))))
    if not 0 <= start < stop <= int(materials["frame_count"]) or stop - start < shortest:
        raise bad(
            f"frames {start}..{stop} are not a clip of at least {shortest} frames within the video's {materials['frame_count']}",
            "choose a start before the stop, at least a second apart, inside the video",
        )
    before = (clip["start"], clip["stop"])
    clip["start"], clip["stop"] = start, stop
    if section == "test_clips":
        excluded = materials.setdefault("exclude_from_training", [])
        if not any(a <= start and stop <= b for a, b in excluded):
            excluded.append([start, stop])
    return f"trimmed clip {wanted} from frames {before[0]}..{before[1]} to {start}..{stop}"


def choose(materials: dict[str, Any], args: dict[str, Any]) -> str:
    """Picks the driving clip, the cover or the test clips among the proposed ones. Chosen test
    clips are excluded from training (what was excluded before stays excluded)."""
    picks = {"driving": "driving_clips", "cover": "covers", "tests": "test_clips"}
    wanted = {key: args[key] for key in picks if key in args}
    if not wanted:
        raise bad("choose needs a driving clip, a cover or test clips", "pick among the proposed materials")
    chosen = materials.setdefault("chosen", {})
    for key, value in wanted.items():
        ids = {entry.get("id") for entry in materials.get(picks[key]) or []}
        missing = [v for v in (value if key == "tests" else [value]) if v not in ids]
        if missing:
            raise bad(f"there is no {picks[key].replace('_', ' ')[:-1]} {', '.join(map(repr, missing))}", f"pick one of {', '.join(sorted(map(str, ids))) or 'none'}")
        chosen[key] = value
    excluded = materials.setdefault("exclude_from_training", [])
    for clip in materials.get("test_clips") or []:
        if clip.get("id") in chosen.get("tests", []) and not any(a <= clip["start"] and clip["stop"] <= b for a, b in excluded):
            excluded.append([clip["start"], clip["stop"]])
    return "chose " + ", ".join(f"{key} {value}" for key, value in wanted.items())
