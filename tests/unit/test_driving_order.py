"""Which recorded frame shows under each output frame: the driving clip looped forward, or forth and
back without showing a turning frame twice, for as many frames as the audio lasts."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.lipsync.driving import DrivingClip, chosen_clip, frame_order, output_frame_count, runs
from plugins.sdk.errors import StageFailed


def clip(start: int, stop: int, loop: str) -> DrivingClip:
    return DrivingClip(id="d1", start=start, stop=stop, loop=loop)


def test_forward_plays_the_clip_again_from_its_first_frame() -> None:
    assert frame_order(clip(10, 14, "forward"), 10).tolist() == [10, 11, 12, 13, 10, 11, 12, 13, 10, 11]


def test_pingpong_turns_at_each_end_without_repeating_the_turning_frame() -> None:
    order = frame_order(clip(10, 14, "pingpong"), 15)
    assert order.tolist() == [10, 11, 12, 13, 12, 11, 10, 11, 12, 13, 12, 11, 10, 11, 12]
    assert (np.abs(np.diff(order)) == 1).all()  # every step moves one frame: no hitch, no jump


def test_pingpong_stays_inside_the_clip_for_a_long_answer() -> None:
    order = frame_order(clip(300, 425, "pingpong"), 10_000)
    assert order.min() == 300 and order.max() == 424
    assert (np.abs(np.diff(order)) == 1).all()
    # one period is 2 * (125 - 1) frames: forth over 124 steps, back over 124
    np.testing.assert_array_equal(order[:248], order[248:496])


def test_clips_of_one_or_two_frames_loop_without_standing_still_twice() -> None:
    assert frame_order(clip(5, 6, "pingpong"), 4).tolist() == [5, 5, 5, 5]
    assert frame_order(clip(5, 7, "pingpong"), 5).tolist() == [5, 6, 5, 6, 5]


def test_an_answer_shorter_than_the_clip_uses_its_beginning() -> None:
    assert frame_order(clip(0, 100, "pingpong"), 3).tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("seconds", "fps", "frames"),
    [(5.0, 25.0, 125), (5.015, 25.0, 125), (5.025, 25.0, 126), (0.001, 25.0, 1), (10.0, 30000 / 1001, 300)],
)
def test_the_frame_count_ends_the_picture_within_half_a_frame_of_the_sound(seconds: float, fps: float, frames: int) -> None:
    count = output_frame_count(seconds, fps)
    assert count == frames
    if seconds * fps >= 0.5:
        assert abs(count / fps - seconds) <= 0.5 / fps + 1e-9


def test_runs_split_the_order_into_the_reads_that_give_it() -> None:
    order = frame_order(clip(10, 14, "pingpong"), 9)  # 10 11 12 13 12 11 10 11 12
    assert runs(order) == [(10, 13, 1), (12, 10, -1), (11, 12, 1)]
    assert runs(frame_order(clip(10, 13, "forward"), 7)) == [(10, 12, 1), (10, 12, 1), (10, 10, 1)]
    assert runs(np.array([4, 4, 4])) == [(4, 4, 1), (4, 4, 1), (4, 4, 1)]


def test_runs_cover_every_output_frame_in_order() -> None:
    for loop in ("forward", "pingpong"):
        order = frame_order(clip(3, 11, loop), 57)
        rebuilt = [n for first, last, step in runs(order) for n in range(first, last + step, step)]
        assert rebuilt == order.tolist()


MATERIALS = {
    "driving_clips": [
        {"id": "d1", "start": 300, "stop": 425, "loop": "pingpong"},
        {"id": "d2", "start": 10, "stop": 60, "loop": "forward"},
    ],
    "chosen": {"driving": "d2"},
}


def test_the_chosen_clip_is_the_one_the_person_picked() -> None:
    assert chosen_clip(MATERIALS) == DrivingClip(id="d2", start=10, stop=60, loop="forward")
    assert chosen_clip({**MATERIALS, "chosen": {}}).id == "d1"  # none picked: the best proposed


@pytest.mark.parametrize(
    ("materials", "code"),
    [
        ({"driving_clips": []}, "no_driving_clip"),
        ({**MATERIALS, "chosen": {"driving": "gone"}}, "no_driving_clip"),
        ({"driving_clips": [{"id": "d1", "start": 50, "stop": 50, "loop": "pingpong"}]}, "bad_driving_clip"),
        ({"driving_clips": [{"id": "d1", "start": 0, "stop": 50, "loop": "shuffle"}]}, "bad_driving_clip"),
    ],
)
def test_materials_without_a_playable_clip_fail_with_the_stage_to_run(materials: dict, code: str) -> None:
    with pytest.raises(StageFailed) as failed:
        chosen_clip(materials)
    assert failed.value.code == code and "material_extraction" in failed.value.advice
