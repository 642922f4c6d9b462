"""Mutated video bytes into the intake check, the function `twinforge check` runs.

A damaged upload is the common case, not the rare one: phones cut files short, copies stop
midway, messengers re-wrap containers. Whatever the bytes, the check must end within a time limit
with either a report or the clear unreadable-file failure, never an exception or a hang; and the
command must exit 0, 1 or 2 (2 for unreadable) without a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from plugins.video_analysis.check import UNREADABLE, check_video
from tests.fixtures.media import write_test_video
from tests.fixtures.services import SAMPLES

SAMPLE = SAMPLES / "speaker_e_5s.mp4"
TIME_LIMIT_S = 30.0
NO_LIMIT = 1024**4

fuzzing = hypothesis_settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))

Mutation = Callable[[bytearray], None]


def bit_flips(size: int) -> st.SearchStrategy[Mutation]:
    def flip(positions: list[tuple[int, int]]) -> Mutation:
        def apply(data: bytearray) -> None:
            for at, bit in positions:
                if at < len(data):
                    data[at] ^= 1 << bit

        return apply

    return st.lists(st.tuples(st.integers(0, size - 1), st.integers(0, 7)), min_size=1, max_size=32).map(flip)


def truncation(size: int) -> st.SearchStrategy[Mutation]:
    return st.integers(1, size - 1).map(lambda keep: lambda data: data.__delitem__(slice(keep, None)))


def zeroed_range(size: int) -> st.SearchStrategy[Mutation]:
    def zero(start: int, length: int) -> Mutation:
        return lambda data: data.__setitem__(slice(start, start + length), bytes(len(data[start:start + length])))

    return st.builds(zero, st.integers(0, size - 1), st.integers(1, size // 4))


def splice(size: int) -> st.SearchStrategy[Mutation]:
    """A piece of the file copied over another place: a re-muxer that lost track of offsets."""
    def copy(source: int, target: int, length: int) -> Mutation:
        return lambda data: data.__setitem__(slice(target, target + length), bytes(data[source:source + length]))

    return st.builds(copy, st.integers(0, size - 1), st.integers(0, size - 1), st.integers(1, size // 4))


def header_garbage(size: int) -> st.SearchStrategy[Mutation]:
    """Random bytes over the start, where the container's box sizes and codec set-up live."""
    def overwrite(garbage: bytes, at: int) -> Mutation:
        return lambda data: data.__setitem__(slice(at, at + len(garbage)), garbage)

    return st.builds(overwrite, st.binary(min_size=1, max_size=64), st.integers(0, min(size - 1, 512)))


def mutations(size: int) -> st.SearchStrategy[list[Mutation]]:
    one = st.one_of(bit_flips(size), truncation(size), zeroed_range(size), splice(size), header_garbage(size))
    return st.lists(one, min_size=1, max_size=3)


def mutated(original: bytes, steps: list[Mutation]) -> bytes:
    data = bytearray(original)
    for step in steps:
        step(data)
    return bytes(data)


def checked_in_time(path: Path) -> dict:
    """Runs the check on a watchdog: a hang fails the test instead of stalling the suite."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = check_video(path, "draft", NO_LIMIT)
        except BaseException as exc:  # noqa: BLE001 - reported as the failure below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(TIME_LIMIT_S)
    assert not worker.is_alive(), f"the check of a mutated video did not end within {TIME_LIMIT_S:.0f} s"
    if "error" in outcome:
        raise AssertionError(f"the check raised instead of reporting: {outcome['error']!r}") from outcome["error"]
    return outcome["report"]


def assert_report_or_unreadable(report: dict) -> str:
    """The outcome's kind, for the reliability record: "unreadable" or the verdict."""
    assert report["verdict"] in ("pass", "fail")
    assert report["measures"], "a report without measures"
    for row in report["measures"]:
        assert set(row) == {"name", "value", "unit", "status", "advice", "advice_code", "advice_values"}
        assert row["status"] == "pass" or row["advice"], f"{row['name']} is {row['status']} with no advice"
    unreadable = [row for row in report["measures"] if row["name"] == UNREADABLE and row["status"] == "fail"]
    if unreadable:
        assert report["verdict"] == "fail" and len(unreadable) == 1
    return "unreadable" if unreadable else report["verdict"]


def fuzz_check(original: bytes, examples: int) -> Counter[str]:
    """How many mutated files ended as a passing report, a failing one, or unreadable."""
    outcomes: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="twinforge-fuzz-") as folder:
        path = Path(folder) / "upload.mp4"

        @hypothesis_settings(fuzzing, max_examples=examples)
        @given(steps=mutations(len(original)))
        def example(steps: list[Mutation]) -> None:
            path.write_bytes(mutated(original, steps))
            outcomes[assert_report_or_unreadable(checked_in_time(path))] += 1

        example()
    return outcomes


RULE = "ends within 30 s (watchdog); a report whose failing measures all carry advice, or the one `container: unreadable` failure; never an exception"
MUTATIONS = "bit flips, truncation, zeroed ranges, splices, random bytes over the header, up to 3 at once"


def tally(outcomes: Counter[str]) -> str:
    return (f"{sum(outcomes.values())} mutated files: {outcomes['pass'] + outcomes['fail']} reports "
            f"({outcomes['fail']} failing), {outcomes['unreadable']} unreadable; no exception, no hang")


@pytest.fixture(scope="module")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_test_video(tmp_path_factory.mktemp("intake") / "small.mp4", seconds=1.0).read_bytes()


def test_a_video_cut_short_anywhere_near_its_end_gets_a_report_or_the_unreadable_error(small_video: bytes, tmp_path: Path, reliability):
    """Found by the fuzz: an MP4 cut short where its track descriptions lie (the moov box at the end of
    the file) left a video track without a decoder, and the check raised AttributeError. Every cut
    over the last 3 KiB, 48 bytes apart."""
    path = tmp_path / "cut.mp4"
    outcomes: Counter[str] = Counter()
    for end in range(len(small_video) - 3072, len(small_video), 48):
        path.write_bytes(small_video[:end])
        outcomes[assert_report_or_unreadable(checked_in_time(path))] += 1
    reliability.record(section="fuzzing", what="the intake check on a 1 s 64x64 H.264/AAC MP4 cut short at every 48th byte of its last 3 KiB",
                       expected=RULE, observed=tally(outcomes))


def test_mutated_small_videos_get_a_report_or_the_unreadable_error(small_video: bytes, reliability):
    outcomes = fuzz_check(small_video, examples=100)
    reliability.record(section="fuzzing", what=f"the intake check (`check_video`) on mutated bytes of a 1 s 64x64 H.264/AAC MP4: {MUTATIONS}",
                       expected=RULE, observed=tally(outcomes))


@pytest.mark.samples
def test_mutated_real_recordings_get_a_report_or_the_unreadable_error(reliability):
    if not SAMPLE.is_file():
        pytest.skip(f"sample video not found at {SAMPLE} (../shared/samples beside the repository): the real-recording mutations are skipped")
    outcomes = fuzz_check(SAMPLE.read_bytes(), examples=40)
    reliability.record(section="fuzzing", what=f"the intake check on mutated bytes of {SAMPLE.name}: {MUTATIONS}", expected=RULE, observed=tally(outcomes))


@pytest.mark.parametrize(
    ("damage", "codes"),
    [
        ("half", {0, 1, 2}),
        ("zeroed_start", {2}),
        ("garbage", {2}),
    ],
)
def test_the_check_command_exits_with_a_code_never_a_traceback(small_video: bytes, tmp_path: Path, damage: str, codes: set[int], reliability):
    data = {
        "half": small_video[: len(small_video) // 2],
        "zeroed_start": bytes(4096) + small_video[4096:],
        "garbage": os.urandom(len(small_video)),
    }[damage]
    path = tmp_path / "upload.mp4"
    path.write_bytes(data)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "twinforge"), "check", "--preset", "draft", str(path)],
        capture_output=True, text=True, timeout=TIME_LIMIT_S * 2, env={**os.environ, "TWINFORGE_DATA_DIR": str(tmp_path / "data")},
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode in codes, f"exit {done.returncode}: {done.stdout}{done.stderr}"
    if done.returncode == 2:
        assert "unreadable" in done.stdout and "send" in done.stdout
    reliability.record(section="fuzzing", what=f"`twinforge check` in a subprocess on a damaged video ({damage.replace('_', ' ')})",
                       expected=f"exit {'/'.join(map(str, sorted(codes)))} (2 with the unreadable advice), no traceback",
                       observed=f"exit {done.returncode}, no traceback")
