"""The trimap of a frame: where the person surely is, where the background surely is, and the band
between them that matting decides, built from the segmentation and refined by the person's edits.

Everything here works at the matting's working size (longer side WORK_LONGEST). The segmentation
gives a soft person matte; its confident parts, shrunk by a band, are the sure foreground and
background, so the band covers the segmentation's uncertain edge on both sides. The face mesh's hull
is always foreground: a face is never cut, whatever the segmentation thought. Then the recipe's
edits, in an order where the most specific wins: whole regions (an object kept or removed, or an
area brushed over), points (a local correction of the trimap), and last the keyed colours, which
always go.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

WORK_LONGEST = 256  # the matting's working size: 0.05-0.1 s a frame with pymatting's closed form
SURE_PERSON = 0.75  # segmentation alpha above this (shrunk by the band) is sure foreground
SURE_BACKGROUND = 0.25  # and below this sure background
POINT_RADIUS = 0.08  # an include/exclude point reaches this share of the longer side around it
REGION_TOLERANCE = 24  # colour steps (0..255 per channel) a region's pixels may differ from its seed
KEY_FEATHER = 0.5  # keyed colours fade back in over this share of the tolerance beyond it

SURE_FG, UNKNOWN, SURE_BG = 1.0, 0.5, 0.0


def working_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, WORK_LONGEST / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def band_radius(size: tuple[int, int]) -> int:
    """Half the unknown band's width: 4 px at 256, wide enough for hair and the matte's own blur."""
    return max(2, round(max(size) / 64))


def disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def hull_mask(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool[h, w]: the convex hull of the face mesh's points (working pixels); empty without a face."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    finite = points[np.isfinite(points).all(axis=1)]
    if len(finite) >= 3:
        hull = cv2.convexHull(np.round(finite * 16).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def colour_region(image: np.ndarray, point: tuple[float, float], reach: float | None = None) -> np.ndarray:
    """bool[h, w]: the pixels connected to `point` whose colour stays within REGION_TOLERANCE of
    the point's own (a fixed range, so a gradient cannot lead the region across the picture), on a
    slightly blurred picture so that texture and noise do not break an object apart. `reach`, in
    pixels, keeps the region within that distance of the point. The region is grown by the pixel
    the blur mixed into its neighbour, so that it reaches the object's edge."""
    height, width = image.shape[:2]
    x, y = int(np.clip(round(point[0]), 0, width - 1)), int(np.clip(round(point[1]), 0, height - 1))
    blurred = cv2.GaussianBlur(image, (0, 0), 1.0)
    mask = np.zeros((height + 2, width + 2), np.uint8)
    if reach is not None:
        fence = np.ones((height, width), np.uint8)
        cv2.circle(fence, (x, y), max(1, int(round(reach))), 0, -1)
        mask[1:-1, 1:-1] = fence
    tolerance = (REGION_TOLERANCE,) * 3
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (2 << 8)
    cv2.floodFill(blurred, mask, (x, y), 0, tolerance, tolerance, flags)
    region = cv2.morphologyEx((mask[1:-1, 1:-1] == 2).astype(np.uint8), cv2.MORPH_CLOSE, disk(2))
    return cv2.dilate(region, disk(1)).astype(bool)  # the pixel the blur took from the region's border


def box_mask(box: list[float], scale: float, size: tuple[int, int]) -> np.ndarray:
    mask = np.zeros((size[1], size[0]), bool)
    x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
    mask[max(0, min(y0, y1)) : max(y0, y1), max(0, min(x0, x1)) : max(x0, x1)] = True
    return mask


def stroke_mask(stroke: list[list[float]], brush: float, scale: float, size: tuple[int, int]) -> np.ndarray:
    """bool[h, w]: what a brush `brush` pixels wide covered along the stroke's points (a single
    point is a dab), scaled from frame pixels; at least one working pixel wide, so a thin brush on a
    large frame still marks something."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    points = np.round(np.asarray(stroke, np.float64).reshape(-1, 2) * scale * 16).astype(np.int32)
    thickness = max(1, int(round(brush * scale)))
    cv2.polylines(mask, [points], False, 1, thickness=thickness, lineType=cv2.LINE_8, shift=4)
    for x, y in points:  # round ends, and the dab of a stroke of one point
        cv2.circle(mask, (int(x), int(y)), max(1, thickness // 2) * 16, 1, -1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def key_distance(image: np.ndarray, colours: list[list[float]]) -> np.ndarray:
    """float32[h, w]: each pixel's RGB distance to the nearest of the picked colours."""
    pixels = image.astype(np.float32)
    nearest = np.full(image.shape[:2], np.inf, np.float32)
    for colour in colours:
        nearest = np.minimum(nearest, np.linalg.norm(pixels - np.asarray(colour, np.float32), axis=2))
    return nearest


def key_keep(image: np.ndarray, keys: list[dict[str, Any]]) -> np.ndarray:
    """float32[h, w] in 0..1: how much of each pixel survives the keyed colours: 0 within a key's
    tolerance, rising to 1 over KEY_FEATHER of the tolerance beyond it, so a keyed edge is soft."""
    keep = np.ones(image.shape[:2], np.float32)
    for key in keys:
        tolerance = float(key["tolerance"])
        distance = key_distance(image, [key["colour"]])
        feather = max(1.0, KEY_FEATHER * tolerance)
        keep = np.minimum(keep, np.clip((distance - tolerance) / feather, 0.0, 1.0))
    return keep


def region_mask(image: np.ndarray, region: dict[str, Any], scale: float) -> np.ndarray:
    if "box" in region:
        return box_mask(region["box"], scale, (image.shape[1], image.shape[0]))
    if "stroke" in region:
        return stroke_mask(region["stroke"], float(region["brush"]), scale, (image.shape[1], image.shape[0]))
    x, y = region["point"]
    return colour_region(image, (x * scale, y * scale))


def build_trimap(image: np.ndarray, coarse: np.ndarray, hull: np.ndarray, recipe: dict[str, Any], scale: float) -> np.ndarray:
    """float64[h, w] of SURE_FG, UNKNOWN, SURE_BG (pymatting's convention). `image` is the
    uint8 RGB picture and `coarse` the segmentation's float alpha, both at the working size;
    `scale` takes the recipe's full-frame pixels to working pixels."""
    size = (image.shape[1], image.shape[0])
    band = disk(band_radius(size))
    fg = cv2.erode((coarse > SURE_PERSON).astype(np.uint8), band).astype(bool) | hull
    bg = cv2.erode((coarse < SURE_BACKGROUND).astype(np.uint8), band).astype(bool)
    bg &= ~cv2.dilate(hull.astype(np.uint8), band).astype(bool)
    for region in recipe.get("regions", []):
        mask = region_mask(image, region, scale)
        keep = region["action"] == "keep"
        fg, bg = (fg | mask, bg & ~mask) if keep else (fg & ~mask, bg | mask)
    reach = POINT_RADIUS * max(size)
    for wanted, points in ((True, recipe.get("include", [])), (False, recipe.get("exclude", []))):
        for x, y in points:
            mask = colour_region(image, (x * scale, y * scale), reach)
            fg, bg = (fg | mask, bg & ~mask) if wanted else (fg & ~mask, bg | mask)
    keys = recipe.get("key_colours", [])
    if keys:
        keyed = key_keep(image, keys) <= 0.0
        fg, bg = fg & ~keyed, bg | keyed
    trimap = np.full(coarse.shape, UNKNOWN)
    trimap[fg] = SURE_FG
    trimap[bg] = SURE_BG
    return trimap
