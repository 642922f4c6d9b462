"""The cut-out's operations on synthetic pictures whose true answer is known: colour keying, the
trimap and its edits, closed-form matting carried by the guided filter, spill removal, the objects
offered to keep, and the edits' checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from plugins.cutout import matting
from plugins.cutout.regions import offered_regions
from plugins.cutout.trimap import SURE_BG, SURE_FG, UNKNOWN, build_trimap, colour_region, key_keep
from plugins.interactive_edit.operations import apply_edit
from plugins.sdk.errors import StageFailed

SIZE = 128
RED, BLUE, GREEN, GREY = (200, 40, 40), (40, 60, 200), (30, 200, 40), (128, 128, 128)


def disc_scene() -> tuple[np.ndarray, np.ndarray]:
    """A red disc (the "person", radius 30) on blue, and its segmentation alpha (soft edge)."""
    image = np.empty((SIZE, SIZE, 3), np.uint8)
    image[:] = BLUE
    cv2.circle(image, (64, 64), 30, RED, -1)
    coarse = np.zeros((SIZE, SIZE), np.float32)
    cv2.circle(coarse, (64, 64), 30, 1.0, -1)
    return image, cv2.GaussianBlur(coarse, (0, 0), 2.0)


def no_hull() -> np.ndarray:
    return np.zeros((SIZE, SIZE), bool)


def empty_recipe(**changes) -> dict:
    return {"key_colours": [], "regions": [], "include": [], "exclude": [], "despill": 1.0, **changes}


def test_keyed_colour_goes_and_fades_back_beyond_its_tolerance():
    image = np.zeros((1, 4, 3), np.uint8)
    image[0] = [GREEN, (30, 200 - 25, 40), (30, 200 - 40, 40), RED]  # distances 0, 25, 40, far
    keep = key_keep(image, [{"colour": GREEN, "tolerance": 30}])
    assert keep[0, 0] == 0.0 and keep[0, 1] == 0.0  # within the tolerance
    assert 0.0 < keep[0, 2] < 1.0  # in the feather (30 .. 45)
    assert keep[0, 3] == 1.0


def test_trimap_has_sure_parts_and_a_band_at_the_edge():
    image, coarse = disc_scene()
    trimap = build_trimap(image, coarse, no_hull(), empty_recipe(), 1.0)
    assert trimap[64, 64] == SURE_FG and trimap[5, 5] == SURE_BG
    assert trimap[64, 64 + 30] == UNKNOWN  # the edge itself is left to matting
    assert ((trimap == UNKNOWN).sum() > 0) and (trimap == UNKNOWN).mean() < 0.15


def test_the_face_hull_is_always_person():
    image, coarse = disc_scene()
    hull = np.zeros((SIZE, SIZE), bool)
    hull[5:20, 100:120] = True  # where the segmentation saw no person
    trimap = build_trimap(image, coarse, hull, empty_recipe(), 1.0)
    assert (trimap[hull] == SURE_FG).all()


def test_an_exclude_point_removes_its_colour_region_within_its_reach():
    image, coarse = disc_scene()
    cv2.circle(image, (64, 64), 6, GREY, -1)  # a grey blemish inside the person
    recipe = empty_recipe(exclude=[[64.0, 64.0]])
    trimap = build_trimap(image, coarse, no_hull(), recipe, 1.0)
    assert trimap[64, 64] == SURE_BG and trimap[64, 68] == SURE_BG
    assert trimap[64, 80] == SURE_FG  # the red around it is another region


def test_points_and_boxes_are_scaled_from_frame_pixels():
    image, coarse = disc_scene()
    cv2.circle(image, (64, 64), 6, GREY, -1)
    trimap = build_trimap(image, coarse, no_hull(), empty_recipe(exclude=[[128.0, 128.0]]), 0.5)
    assert trimap[64, 64] == SURE_BG
    kept = build_trimap(image, coarse, no_hull(), empty_recipe(regions=[{"action": "keep", "box": [0, 0, 40, 40]}]), 0.5)
    assert (kept[:20, :20] == SURE_FG).all() and kept[30, 5] == SURE_BG


def test_a_brushed_stroke_marks_what_the_brush_covered_whatever_its_colours():
    image, coarse = disc_scene()
    # a horizontal stroke 8 frame pixels wide through the disc, given in frame pixels (twice the working size)
    stroke = {"action": "remove", "stroke": [[60.0, 128.0], [196.0, 128.0]], "brush": 8.0}
    trimap = build_trimap(image, coarse, no_hull(), empty_recipe(regions=[stroke]), 0.5)
    assert (trimap[64, 32:96] == SURE_BG).all(), "red and blue alike: a brush is not a colour region"
    assert trimap[64 - 5, 64] == SURE_FG and trimap[64 + 5, 64] == SURE_FG, "only the brush's width"
    assert trimap[64, 20] == SURE_BG and trimap[64, 110] == SURE_BG
    dab = build_trimap(image, np.zeros_like(coarse), no_hull(), empty_recipe(regions=[{"action": "keep", "stroke": [[128.0, 20.0]], "brush": 12.0}]), 0.5)
    assert dab[10, 64] == SURE_FG and dab[10, 70] == SURE_BG and dab[30, 64] == SURE_BG, "one point is a dab of the brush's size"


def test_a_brush_stroke_needs_its_width():
    edited = apply_edit("region", {"action": "remove", "stroke": [[1, 2], [3, 4]], "brush": 6}, empty_recipe(), {}, None, [], (64, 64), None)
    assert edited.recipe["regions"] == [{"action": "remove", "stroke": [[1.0, 2.0], [3.0, 4.0]], "brush": 6.0}]
    assert edited.words == "removed a brushed area (2 point(s), 6 px wide)"
    with pytest.raises(StageFailed, match="brush's width"):
        apply_edit("region", {"action": "remove", "stroke": [[1, 2]]}, empty_recipe(), {}, None, [], (64, 64), None)


def test_a_keyed_colour_is_sure_background_even_inside_the_person():
    image, coarse = disc_scene()
    trimap = build_trimap(image, coarse, no_hull(), empty_recipe(key_colours=[{"colour": RED, "tolerance": 20}]), 1.0)
    assert trimap[64, 64] == SURE_BG


def test_colour_region_follows_connected_pixels_of_the_seed_colour():
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[:] = BLUE
    image[10:40, 10:40] = GREEN
    image[80:110, 80:110] = GREEN  # the same colour, not connected
    region = colour_region(image, (20, 20))
    assert region[25, 25] and not region[90, 90] and not region[60, 60]
    assert abs(int(region.sum()) - 30 * 30) < 60


def blended_scene(scale: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A picture made as alpha * F + (1 - alpha) * B with a known soft alpha (a ramp around a disc),
    F a red-and-grey texture, B green: the picture, the true alpha, F and B."""
    size = SIZE * scale
    ys, xs = np.indices((size, size)) / scale
    distance = np.hypot(xs - 64, ys - 64)
    alpha = np.clip((34 - distance) / 8, 0, 1)
    fg = np.where(((xs // 8 + ys // 8) % 2)[..., None] == 0, np.array(RED, float), np.array(GREY, float))
    bg = np.broadcast_to(np.array(GREEN, float), fg.shape)
    picture = np.rint(alpha[..., None] * fg + (1 - alpha[..., None]) * bg).astype(np.uint8)
    return picture, alpha, fg, bg


def true_trimap(alpha: np.ndarray) -> np.ndarray:
    trimap = np.full(alpha.shape, UNKNOWN)
    trimap[cv2.erode((alpha >= 1).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0] = SURE_FG
    trimap[cv2.erode((alpha <= 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0] = SURE_BG
    return trimap


def test_closed_form_matting_recovers_a_known_soft_edge():
    picture, alpha, _, _ = blended_scene()
    trimap = true_trimap(alpha)
    solved = matting.solve_alpha(picture, trimap)
    band = trimap == UNKNOWN
    assert np.abs(solved - alpha)[band].mean() < 0.05


def test_guided_coefficients_carry_the_alpha_to_full_resolution():
    small, alpha, _, _ = blended_scene()
    large, large_alpha, _, _ = blended_scene(scale=2)
    model = matting.fit(small, matting.solve_alpha(small, true_trimap(alpha)))
    upsampled = matting.enforce(matting.apply(model, large), cv2.resize(true_trimap(alpha), (2 * SIZE, 2 * SIZE), interpolation=cv2.INTER_NEAREST))
    edge = (large_alpha > 0) & (large_alpha < 1)
    assert np.abs(upsampled - large_alpha)[edge].mean() < 0.08
    assert upsampled[SIZE, SIZE] == 1.0 and upsampled[2, 2] == 0.0


def test_blended_coefficients_lie_between_the_keyframes():
    picture, alpha, _, _ = blended_scene()
    first = matting.fit(picture, alpha)
    second = matting.fit(picture, np.zeros_like(alpha))
    halfway = first.blend(second, 0.5)
    assert np.allclose(halfway.b, (first.b + second.b) / 2, atol=1e-6)


def test_despill_takes_the_background_colour_out_of_the_edge():
    picture, alpha, fg, _ = blended_scene()
    cleaned = matting.despill(picture, alpha, 1.0)
    edge = (alpha > 0.2) & (alpha < 0.8)
    before = np.abs(picture[edge].astype(float) - fg[edge]).mean()
    after = np.abs(cleaned[edge].astype(float) - fg[edge]).mean()
    assert after < 0.5 * before
    halfway = matting.despill(picture, alpha, 0.5)
    assert after < np.abs(halfway[edge].astype(float) - fg[edge]).mean() < before
    assert matting.despill(picture, alpha, 0.0) is picture
    opaque = alpha >= 1
    assert np.array_equal(cleaned[opaque], picture[opaque])


def test_an_object_touching_the_person_is_offered_and_the_backdrop_is_not():
    image, coarse = disc_scene()
    image[88:, 30:100] = GREY  # a desk in front of the person's lower part
    coarse[88:, 30:100] = 0.0
    offered = offered_regions(image, coarse, 0.5)
    assert offered, "the desk is offered"
    desk = offered[0]
    assert desk["box"] == [60.0, 176.0, 200.0, 256.0]  # in frame pixels, twice the working size
    x, y = desk["point"]
    assert 60 <= x < 200 and 176 <= y < 256
    assert all(region["area"] <= 0.3 for region in offered)  # the blue backdrop (most of the frame) is not


def test_trim_checks_the_clip_and_keeps_test_frames_out_of_training():
    materials = {
        "fps": 25.0, "frame_count": 500, "driving_clips": [{"id": "d1", "start": 100, "stop": 200}],
        "test_clips": [{"id": "t1", "start": 300, "stop": 400}], "chosen": {"driving": "d1"}, "exclude_from_training": [[300, 400]],
    }
    recipe = empty_recipe()
    driving = apply_edit("trim", {"start": 120, "stop": 180}, recipe, materials, None, [], (64, 64), None)
    assert driving.materials["driving_clips"][0] == {"id": "d1", "start": 120, "stop": 180}
    assert materials["driving_clips"][0]["start"] == 100  # the input is left as it was
    test = apply_edit("trim", {"clip": "t1", "start": 280, "stop": 350}, recipe, materials, None, [], (64, 64), None)
    assert test.materials["exclude_from_training"] == [[300, 400], [280, 350]]
    with pytest.raises(StageFailed) as short:
        apply_edit("trim", {"start": 120, "stop": 130}, recipe, materials, None, [], (64, 64), None)
    assert short.value.code == "bad_parameters"


def test_an_offered_region_is_kept_by_its_id_and_an_unknown_one_is_refused():
    regions = [{"id": "r1", "point": [10.0, 20.0], "box": [0, 0, 30, 40], "area": 0.1, "contact": 0.2}]
    kept = apply_edit("region", {"action": "keep", "region": "r1"}, empty_recipe(), {}, None, regions, (64, 64), None)
    assert kept.recipe["regions"] == [{"action": "keep", "point": [10.0, 20.0]}]
    with pytest.raises(StageFailed, match="no offered region 'r9'"):
        apply_edit("region", {"action": "keep", "region": "r9"}, empty_recipe(), {}, None, regions, (64, 64), None)


def test_a_background_picture_is_fitted_to_the_frame():
    picture = np.zeros((50, 100, 3), np.uint8)
    picture[:, :50] = (255, 0, 0)  # RGB red left half
    ok, encoded = cv2.imencode(".png", picture[..., ::-1])
    edited = apply_edit("background", {"image": True}, empty_recipe(), {}, None, [], (40, 40), encoded.tobytes())
    assert edited.background.shape == (40, 40, 3)
    assert tuple(edited.background[20, 5]) == (255, 0, 0) and tuple(edited.background[20, 35]) == (0, 0, 0)


def test_choosing_materials_checks_the_ids_and_keeps_chosen_tests_out_of_training():
    materials = {
        "driving_clips": [{"id": "d1", "start": 0, "stop": 50}, {"id": "d2", "start": 60, "stop": 120}],
        "covers": [{"id": "c1", "frame": 5}], "test_clips": [{"id": "t1", "start": 200, "stop": 250}, {"id": "t2", "start": 300, "stop": 340}],
        "chosen": {"driving": "d1", "cover": "c1", "tests": ["t1"]}, "exclude_from_training": [[200, 250]],
    }
    chosen = apply_edit("choose", {"driving": "d2", "tests": ["t1", "t2"]}, empty_recipe(), materials, None, [], (64, 64), None)
    assert chosen.materials["chosen"] == {"driving": "d2", "cover": "c1", "tests": ["t1", "t2"]}
    assert chosen.materials["exclude_from_training"] == [[200, 250], [300, 340]]
    assert chosen.words == "chose driving d2, tests ['t1', 't2']"
    with pytest.raises(StageFailed, match="no cover 'c9'"):
        apply_edit("choose", {"cover": "c9"}, empty_recipe(), materials, None, [], (64, 64), None)


def test_an_include_point_makes_its_patch_person():
    image, coarse = disc_scene()
    cv2.circle(image, (15, 15), 5, GREY, -1)  # a patch of the backdrop the segmentation left out
    trimap = build_trimap(image, coarse, no_hull(), empty_recipe(include=[[15.0, 15.0]]), 1.0)
    assert trimap[15, 15] == SURE_FG and trimap[15, 18] == SURE_FG and trimap[5, 40] == SURE_BG
