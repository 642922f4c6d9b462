"""`twinforge evaluate` on inputs that do not fit together or are broken: mismatched lengths and
frame rates, silence, no face, no sound, truncated and mutated files. Whatever comes in, the
command measures what can be measured and gives a verdict (exit 0 or 3) or refuses in words (exit
1): never a traceback. Media are made at test time (a talking portrait, tests/fixtures/talking_face.py),
so this runs without the sample recordings."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from host.evaluate_command import evaluate_command
from plugins.media.audio import read_audio
from plugins.media.frames import read_frames
from tests.fixtures.adversarial import write_video
from tests.fixtures.media import write_test_video
from tests.fixtures.talking_face import write_talking_face

MUTANTS = 8


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("evaluate-inputs")
    face = write_talking_face(folder / "face.mp4", seconds=12.0)
    made = {"face": face, "short_face": write_talking_face(folder / "short_face.mp4", seconds=6.0)}
    made["faceless"] = write_test_video(folder / "faceless.mp4", seconds=4.0, size=128, beat_hz=3.0)
    made["soundless"] = write_test_video(folder / "soundless.mp4", seconds=4.0, size=128, audio=False)
    made["silent"] = reencoded(face, folder / "silent.mp4", silence=True)
    made["fps30"] = reencoded(face, folder / "fps30.mp4", fps=30)
    made["tiny_clip"] = write_talking_face(folder / "tiny_clip.mp4", seconds=0.6)
    data = face.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    made["truncated"] = folder / "truncated.mp4"
    (folder / "garbage.mp4").write_bytes(np.random.default_rng(3).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    made["garbage"] = folder / "garbage.mp4"
    return made


def reencoded(source: Path, path: Path, silence: bool = False, fps: int = 25) -> Path:
    """The video again, with its sound replaced by silence or its frames re-timed to `fps`."""
    pictures = [rgb for _, rgb in read_frames(source, 0, None)]
    sound = read_audio(source)
    return write_video(path, iter(pictures), np.zeros_like(sound) if silence else sound, fps)


def evaluate(*args: str) -> Result:
    result = CliRunner().invoke(evaluate_command, [*args, "--preset", "draft"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def test_inputs_of_different_lengths_are_measured_over_the_span_they_share(media):
    result = evaluate(str(media["face"]), "--reference", str(media["short_face"]), "--floor", str(media["face"]))
    assert result.exit_code in (0, 3), result.output
    assert "Note: the inputs differ in length" in result.output and "measured over the first 6.00 s" in result.output


def test_a_video_shorter_than_its_reference_is_measured_not_a_traceback(media):
    result = evaluate(str(media["short_face"]), "--reference", str(media["face"]))
    assert result.exit_code == 3 and "differ in length" in result.output


@pytest.mark.parametrize("name, words", [
    ("soundless", "--audio"),
    ("garbage", "cannot be read as a video"),
    ("tiny_clip", "under 1 s in common"),
])
def test_inputs_that_cannot_be_measured_are_refused_in_words(media, name, words):
    result = evaluate(str(media[name]))
    assert result.exit_code == 1 and words in result.output, result.output


def test_a_reference_at_another_frame_rate_is_refused_in_words(media):
    result = evaluate(str(media["face"]), "--reference", str(media["fps30"]))
    assert result.exit_code == 1 and "re-encode the reference at 25 fps" in result.output, result.output


@pytest.mark.parametrize("name", ["silent", "faceless"])
def test_a_silent_or_faceless_video_is_measured_and_fails(media, name):
    result = evaluate(str(media[name]), "--reference", str(media[name]), "--floor", str(media[name]))
    assert result.exit_code == 3, result.output


def test_a_truncated_video_is_measured_as_far_as_it_decodes_or_refused(media):
    result = evaluate(str(media["truncated"]), "--reference", str(media["face"]))
    assert result.exit_code in (1, 3), result.output


def test_mutated_videos_never_give_a_traceback(media, tmp_path):
    rng = np.random.default_rng(11)
    original = media["short_face"].read_bytes()
    for number in range(MUTANTS):
        data = bytearray(original)
        for at in rng.integers(0, len(data), int(rng.integers(1, 40))):
            data[at] = int(rng.integers(0, 256))
        mutant = tmp_path / f"mutant{number}.mp4"
        mutant.write_bytes(bytes(data))
        result = evaluate(str(mutant), "--reference", str(media["short_face"]), "--floor", str(media["short_face"]))
        assert result.exit_code in (0, 1, 3), result.output
    shutil.rmtree(tmp_path, ignore_errors=True)
