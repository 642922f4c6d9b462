"""The cut-out editor's undo and redo, read from the versions alone (each undo and redo is itself a
new version, a revert), and each version said in the person's words."""

from __future__ import annotations

import json

from bot.webapp.cutout import Moves, moves, version_words
from twinforge.host.v1 import host_service_pb2 as host_pb


def history(*steps: tuple[str, dict]) -> list[host_pb.MaterialVersion]:
    """Versions 1..N: the cut-out, then each (operation, parameters) in turn, the last one current."""
    made = [("cutout", {}), *steps]
    return [host_pb.MaterialVersion(version=number, current=number == len(made), edit=host_pb.MaterialEdit(
        version=number, operation=operation, parameters_json=json.dumps(parameters), based_on=number - 1))
        for number, (operation, parameters) in enumerate(made, start=1)]


REMOVE = ("region", {"action": "remove", "stroke": [[1, 2], [3, 4]], "brush": 5})
DESPILL = ("despill", {"strength": 0.5})


def back(version: int) -> tuple[str, dict]:
    return "revert", {"to_version": version}


def test_a_first_cut_out_has_nothing_to_undo_and_an_edit_can_be_undone():
    assert moves([]) is None
    assert moves(history()) == Moves(shown=1, undo=None, redo=None)
    assert moves(history(REMOVE)) == Moves(shown=2, undo=1, redo=None)


def test_undo_and_redo_walk_back_and_forth_through_every_version():
    assert moves(history(REMOVE, DESPILL)) == Moves(3, 2, None)
    assert moves(history(REMOVE, DESPILL, back(2))) == Moves(2, 1, 3), "undo: version 4 is version 2 again"
    assert moves(history(REMOVE, DESPILL, back(2), back(1))) == Moves(1, None, 2), "undo again, down to the cut-out"
    assert moves(history(REMOVE, DESPILL, back(2), back(1), back(2))) == Moves(2, 1, 3), "redo"
    assert moves(history(REMOVE, DESPILL, back(2), back(1), back(2), back(3))) == Moves(3, 2, None), "redo again, nothing left to redo"
    assert moves(history(REMOVE, DESPILL, back(2), back(1), back(2), back(3), back(2))) == Moves(2, 1, 3), "and undo once more"


def test_an_edit_after_an_undo_forgets_what_could_be_redone():
    assert moves(history(REMOVE, back(1), DESPILL)) == Moves(4, 1, None)
    assert moves(history(REMOVE, back(1), DESPILL, back(1))) == Moves(1, None, 4)


def test_a_version_picked_from_the_list_is_a_step_of_its_own():
    """Going straight to version 2 from 4 is undone back to 4, and nothing is left to redo until it is."""
    assert moves(history(REMOVE, DESPILL, DESPILL, back(2))) == Moves(2, 4, None)
    assert moves(history(REMOVE, DESPILL, DESPILL, back(2), back(4))) == Moves(4, 3, 2)


def test_going_back_to_what_is_shown_changes_nothing():
    """The bot's undo reverts to the version an edit was made from, which may itself be a revert of
    what is shown already: the history stays as it was, with what can be redone."""
    assert moves(history(REMOVE, back(1), back(3))) == Moves(1, None, 2)


def test_each_version_is_said_in_the_persons_language_without_the_platforms_words():
    versions = history(REMOVE, ("key_colour", {"colours": [[221, 214, 204]]}), ("trimap_points", {"exclude": [[3, 4]]}), DESPILL,
                       ("background", {"colour": [0, 177, 64]}), ("background", {"image": True}), back(2))
    words = [version_words(versions, v, "en") for v in versions]
    assert words == ["Version 1: the first cut-out", "Version 2: removed a brushed area", "Version 3: keyed out #ddd6cc",
                     "Version 4: removed a spot", "Version 5: spill removal at 50%", "Version 6: the colour #00b140 behind you",
                     "Version 7: a picture behind you", "Version 8: as version 2 was"]
    assert [version_words(versions, v, "zh") for v in versions][1:3] == ["第 2 版：去掉了涂抹的区域", "第 3 版：抠掉了 #ddd6cc"]
