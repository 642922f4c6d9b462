"""The training set round-trips through its zip, maps each array in place (aligned, no copy, no
extraction), is streamed in chunks on the way in, and a wrong or damaged file is refused with a
sentence that says what to do."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from plugins.media.audio import read_wav, write_wav
from plugins.sdk.training_set import (
    FORMAT_VERSION,
    MANIFEST,
    Streamed,
    TrainingSetError,
    open_training_set,
    write_training_set,
)

N, S, T = 40, 16, 160


def arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    landmarks = rng.uniform(0, S, (N, 468, 2)).astype(np.float32)
    landmarks[3] = np.nan
    return {
        "faces": rng.integers(0, 256, (N, S, S, 3), dtype=np.uint8),
        "boxes": rng.uniform(0, 200, (N, 4)).astype(np.float32),
        "landmarks": landmarks,
        "speech": rng.random(N) > 0.5,
        "speech_probability": rng.random(N).astype(np.float32),
        "mel": rng.standard_normal((T, 80)).astype(np.float32),
        "quality": rng.integers(0, 16, N, dtype=np.uint8),
    }


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "audio.wav"
    write_wav(path, np.sin(np.arange(16_000 * 2) / 10).astype(np.float32) * 0.5)
    return path


def made(tmp_path: Path, wav: Path, name: str = "set.zip", **extra) -> tuple[Path, dict[str, np.ndarray]]:
    data = arrays(np.random.default_rng(len(name)))
    path = tmp_path / name
    write_training_set(path, {"frame_count": N, "fps": 25.0, "crop_size": S, **extra}, data, wav)
    return path, data


def test_every_array_comes_back_memory_mapped_and_aligned(tmp_path: Path, wav: Path) -> None:
    path, data = made(tmp_path, wav)
    opened = open_training_set(path)
    assert opened.frame_count == N and opened.manifest["format_version"] == FORMAT_VERSION
    for name, expected in data.items():
        got = opened[name]
        assert isinstance(got, np.memmap) and not got.flags.writeable
        assert got.ctypes.data % 64 == 0, f"{name} is not aligned"
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
        assert opened.manifest["arrays"][name] == {"shape": list(expected.shape), "dtype": expected.dtype.str}
    samples, rate = opened.audio()
    expected, _ = read_wav(wav)
    assert rate == 16_000 and np.array_equal(samples, expected)
    with zipfile.ZipFile(path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
        assert archive.testzip() is None  # every CRC is right: plain zip tools read it too
        assert np.array_equal(np.load(archive.open("faces.npy")), data["faces"])


def test_faces_streamed_in_chunks_equal_the_whole_array(tmp_path: Path, wav: Path) -> None:
    path, data = made(tmp_path, wav, "whole.zip")
    faces = data["faces"]
    streamed = {**data, "faces": Streamed(faces.shape, faces.dtype, (faces[i : i + 7] for i in range(0, N, 7)))}
    write_training_set(tmp_path / "streamed.zip", {"frame_count": N}, streamed, wav)
    np.testing.assert_array_equal(open_training_set(tmp_path / "streamed.zip")["faces"], open_training_set(path)["faces"])


def test_streamed_chunks_that_miss_rows_are_refused(tmp_path: Path, wav: Path) -> None:
    data = arrays(np.random.default_rng(1))
    short = {**data, "faces": Streamed((N, S, S, 3), np.uint8, [data["faces"][:10]])}
    with pytest.raises(ValueError, match="10 rows"):
        write_training_set(tmp_path / "short.zip", {"frame_count": N}, short, wav)


def test_a_large_streamed_set_gives_any_frame(tmp_path: Path, wav: Path) -> None:
    """150 MB of faces written 100 frames at a time: each frame lands at its own place."""
    faces = Streamed((3000, 128, 128, 3), np.uint8, (np.full((100, 128, 128, 3), i, np.uint8) for i in range(30)))
    data = {**arrays(np.random.default_rng(2)), "faces": faces}
    per_frame = {k: np.resize(v, (3000, *v.shape[1:])) for k, v in data.items() if k not in ("faces", "mel")}
    path = tmp_path / "large.zip"
    write_training_set(path, {"frame_count": 3000}, {**data, **per_frame}, wav)
    assert path.stat().st_size > 3000 * 128 * 128 * 3
    opened = open_training_set(path)
    assert int(opened["faces"][2550, 64, 64, 0]) == 25 and int(opened["faces"][99].max()) == 0


def test_a_zip_of_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MANIFEST, json.dumps({"format": "somebody.else"}))
    with pytest.raises(TrainingSetError, match="not a Twinforge training set"):
        open_training_set(path)


def test_a_newer_format_version_asks_for_an_update(tmp_path: Path, wav: Path) -> None:
    path, _ = made(tmp_path, wav)
    rewritten = tmp_path / "newer.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(rewritten, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == MANIFEST:
                data = json.dumps({**json.loads(data), "format_version": FORMAT_VERSION + 1}).encode()
            out.writestr(info.filename, data)
    with pytest.raises(TrainingSetError, match="update Twinforge"):
        open_training_set(rewritten)


def test_a_compressed_member_is_refused_as_unmappable(tmp_path: Path, wav: Path) -> None:
    path, _ = made(tmp_path, wav)
    squeezed = tmp_path / "squeezed.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(squeezed, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info.filename, source.read(info))
    with pytest.raises(TrainingSetError, match="compressed"):
        open_training_set(squeezed)


def test_a_truncated_file_is_refused(tmp_path: Path, wav: Path) -> None:
    path, _ = made(tmp_path, wav)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(TrainingSetError, match="not a readable training set"):
        open_training_set(cut)


def test_an_array_that_disagrees_with_the_manifest_is_refused(tmp_path: Path, wav: Path) -> None:
    data = arrays(np.random.default_rng(3))
    path = tmp_path / "odd.zip"
    write_training_set(path, {"frame_count": N + 1}, data, wav)
    with pytest.raises(TrainingSetError, match="one row for each of the 41 frames"):
        open_training_set(path)


def test_a_set_without_a_required_array_is_not_written(tmp_path: Path, wav: Path) -> None:
    data = arrays(np.random.default_rng(4))
    del data["mel"]
    with pytest.raises(ValueError, match="mel"):
        write_training_set(tmp_path / "x.zip", {"frame_count": N}, data, wav)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "video.zip"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(TrainingSetError, match="download it again, or run the crop stage again"):
        open_training_set(path)

