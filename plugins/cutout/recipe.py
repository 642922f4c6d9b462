"""The recipe of a cut-out: every edit a person made, as data stored inside `cutout.npz`.

The alpha of any frame is a function of the video, the segmentation's matte, the face landmarks
and this recipe, so an edit appends to the recipe and the cut-out is made again from it; the frames
already matted are reused when the part of the recipe the matting depends on has not changed
(a new despill strength or background only renders again). Coordinates are full-frame pixels, the
same on every frame: the camera is assumed still, as the intake asks.
"""

from __future__ import annotations

import json
from typing import Any

DESPILL = 1.0  # full removal of the background's colour from the edges, unless the person lowers it
KEY_TOLERANCE = 40.0  # RGB distance (0..441) within which a picked colour is keyed out
# Everything but `despill` decides the alpha; despill only changes the colours of the frames.
MATTING_KEYS = ("key_colours", "regions", "include", "exclude")


def default_recipe() -> dict[str, Any]:
    return {"key_colours": [], "regions": [], "include": [], "exclude": [], "despill": DESPILL}


def matting_part(recipe: dict[str, Any]) -> dict[str, Any]:
    return {key: recipe.get(key, []) for key in MATTING_KEYS}


def recipe_to_text(recipe: dict[str, Any]) -> str:
    return json.dumps(recipe, sort_keys=True)


def recipe_from_text(text: str) -> dict[str, Any]:
    return {**default_recipe(), **json.loads(text)}
