"""`interactive_edit`: one edit of the materials by the person, made into a new version of them.

Inputs: the video, the segmentation's matte and the training set (as the cut-out had them), the
current `cutout.npz` and `materials.json`, and for a new background picture an upload of kind
`background_image`. Parameters: `operation`, its arguments, `by` (who edits) and optionally
`version` (the number the host gives the new version; else the input's plus one). The run outputs
a whole new version, `cutout.npz`, `materials.json`, `cutout_frames.zip` and `cutout_preview.mp4`,
and its summary's `edit` entry (who, what, parameters, resulting version) lands in the avatar's
message center with the run's result; a log line says it in words. `revert` is the undo: given an
old version's files as inputs, it publishes them again as the newest version, so history is never
rewritten (host/material_versions.py submits it).

Frames are matted again only when the edit changes what the alpha depends on (keyed colours,
regions, points) or brings new frames (another driving clip or cover, a longer trim); trimming
within the clip, the spill strength and the background reuse them.
"""

from __future__ import annotations

import json

from plugins.cutout.artifact import Cutout, publish, read_cutout
from plugins.cutout.inputs import cover_frame, driving_clip, read_materials, read_sources
from plugins.cutout.pipeline import cut_out
from plugins.cutout.recipe import matting_part
from plugins.cutout.server import MATTING_SHARE, timing
from plugins.interactive_edit.operations import OPERATIONS, apply_edit
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.sdk.video import video_info

MATERIALS_NAME, MATERIALS_KIND = "materials.json", "materials"
IMAGE_KIND = "background_image"
CONTROL = ("operation", "by", "version")  # parameters about the edit, not arguments of it

_COLOUR = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 255}, "minItems": 3, "maxItems": 3}
_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}


class InteractiveEdit(Plugin):
    name = "interactive_edit"
    version = "1.0.0"
    stages = ("interactive_edit",)
    description = "One edit of the cut-out or the materials (keyed colours, regions, trimap points, spill, background, trim, choice, undo) as a new version."
    cpu_cores = 1.0
    memory_bytes = 2 * 1024**3
    parameters_schema = {
        "type": "object",
        "required": ["operation", "by"],
        "properties": {
            "operation": {"enum": list(OPERATIONS)},
            "by": {"type": "string", "minLength": 1, "maxLength": 128},
            "version": {"type": "integer", "minimum": 2},
            "colours": {"type": "array", "items": _COLOUR, "minItems": 1},
            "tolerance": {"type": "number", "minimum": 0, "maximum": 441},
            "action": {"enum": ["keep", "remove"]},
            "region": {"type": "string"},
            "point": _POINT,
            "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            "stroke": {"type": "array", "items": _POINT, "minItems": 1, "maxItems": 2000},
            "brush": {"type": "number", "exclusiveMinimum": 0, "maximum": 10000},
            "include": {"type": "array", "items": _POINT},
            "exclude": {"type": "array", "items": _POINT},
            "strength": {"type": "number", "minimum": 0, "maximum": 1},
            "colour": _COLOUR,
            "image": {"type": "boolean"},
            "recorded": {"type": "boolean"},
            "clip": {"type": "string"},
            "start": {"type": "integer", "minimum": 0},
            "stop": {"type": "integer", "minimum": 1},
            "driving": {"type": "string"},
            "cover": {"type": "string"},
            "tests": {"type": "array", "items": {"type": "string"}},
            "to_version": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    }

    def run(self, ctx: RunContext) -> None:
        video = ctx.input("video")
        info = video_info(video)
        current = read_cutout(ctx.input("cutout"))
        materials = read_materials(ctx.input("materials"))
        operation, by = ctx.parameters["operation"], ctx.parameters["by"]
        version = int(ctx.parameters.get("version", current.version + 1))
        args = {key: value for key, value in ctx.parameters.items() if key not in CONTROL}
        ctx.progress(0.0, f"applying the edit: {operation}")
        if operation == "revert":
            recipe, background = current.recipe, current.background
            words = f"went back to version {args.get('to_version', current.version)}"
        else:
            image = next((item.path.read_bytes() for item in ctx.inputs if item.ref.kind == IMAGE_KIND), None)
            edited = apply_edit(operation, args, current.recipe, materials, current.background, current.regions, (info.width, info.height), image)
            recipe, materials, background, words = edited.recipe, edited.materials, edited.background, edited.words
        sources = read_sources(ctx, video, info, materials)
        clip, cover = driving_clip(materials, info.frame_count), cover_frame(materials, info.frame_count)
        reuse = current.frames() if matting_part(recipe) == matting_part(current.recipe) else {}
        cut = cut_out(ctx, sources, recipe, clip, cover, reuse, 0.0, MATTING_SHARE)
        path = ctx.workdir / MATERIALS_NAME
        path.write_text(json.dumps(materials, indent=2, sort_keys=True))
        ctx.save_artifact(path, MATERIALS_NAME, MATERIALS_KIND, {"version": version})
        cutout = Cutout(cut.alpha, cut.cover_alpha, clip, cover, info.fps, version, recipe, current.regions, background, current.background_colours)
        sizes = publish(ctx, video, cutout, MATTING_SHARE)
        entry = {"version": version, "by": by, "operation": operation, "parameters": args, "based_on": current.version, "words": words}
        ctx.log(f"materials version {version}: {by} {words}")
        ctx.summary = {
            "edit": entry, "version": version, "start": clip.start, "stop": clip.stop, "cover": cover, "regions": current.regions,
            "background_colours": current.background_colours, "matted_frames": cut.matted, **timing(cut), **sizes,
        }
        ctx.progress(1.0, f"version {version} is ready")


if __name__ == "__main__":
    main(InteractiveEdit())
