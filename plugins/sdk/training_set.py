"""The training set on disk: one uncompressed zip that training memory-maps instead of unpacking.

Training reads frames at random for hours; decoding a video or unpacking an archive for each
sample would cost more than the model step. So every array is a `.npy` member stored without
compression (`ZIP_STORED`), each member's data aligned to 64 bytes, and the reader maps each member
in place: opening a training set of any size costs a few page reads, and a sample costs only the
pages it touches. The format is fixed in docs/preprocessing.md.
"""

from __future__ import annotations

import json
import shutil
import struct
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

FORMAT = "twinforge.training_set"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
AUDIO = "audio.wav"
# The arrays every training set holds, per docs/preprocessing.md.
REQUIRED_ARRAYS = ("faces", "boxes", "landmarks", "speech", "speech_probability", "mel", "quality")
# The arrays with one row per video frame.
PER_FRAME = ("faces", "boxes", "landmarks", "speech", "speech_probability", "quality")
QUALITY_FLAGS = {"no_face": 1, "blurred": 2, "partly_outside": 4, "large_motion": 8}

_ALIGN = 64
_PADDING_ID = 0xD935  # the extra field id Android's zipalign uses for the same purpose
_ZIP64_LOCAL_EXTRA = 20  # what zipfile adds to a local header written with force_zip64
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


class TrainingSetError(Exception):
    """The file is not a training set this code can read; the message says why and what to do."""


@dataclass(frozen=True)
class Streamed:
    """An array written chunk by chunk (rows along the first axis), never whole in memory."""

    shape: tuple[int, ...]
    dtype: np.dtype
    chunks: Iterable[np.ndarray]


@dataclass(frozen=True)
class TrainingSet:
    path: Path
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]  # read-only memory maps into the zip

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @property
    def frame_count(self) -> int:
        return int(self.manifest["frame_count"])

    def audio(self) -> tuple[np.ndarray, int]:
        """The sound as float samples in [-1, 1] and its rate (the 16-bit PCM member, mapped)."""
        with zipfile.ZipFile(self.path) as archive, open(self.path, "rb") as raw:
            info = archive.getinfo(AUDIO)
            start = _data_offset(raw, info)
            raw.seek(start)
            header = raw.read(min(info.file_size, 4096))
        data_at, data_size, rate = _wav_layout(header, self.path)
        count = min(data_size, info.file_size - data_at) // 2
        if count <= 0:
            return np.zeros(0, np.float32), rate
        pcm = np.memmap(self.path, dtype="<i2", mode="r", offset=start + data_at, shape=(count,))
        return pcm.astype(np.float32) / 32768.0, rate


# Writing ------------------------------------------------------------------------------------------


def write_training_set(
    path: Path, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray | Streamed], audio_wav: Path
) -> dict[str, Any]:
    """Writes the zip: the manifest (completed with the format and every array's shape and dtype),
    each array as `<name>.npy`, and the wav file as is. Returns the manifest written."""
    missing = [name for name in REQUIRED_ARRAYS if name not in arrays]
    if missing:
        raise ValueError(f"a training set needs the arrays {', '.join(missing)}")
    layouts = {name: _layout(value) for name, value in arrays.items()}
    written = {
        **manifest,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arrays": {name: {"shape": list(shape), "dtype": dtype.str} for name, (shape, dtype) in layouts.items()},
    }
    with open(path, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        with _member(archive, raw, MANIFEST) as out:
            out.write(json.dumps(written, indent=2, sort_keys=True).encode())
        for name, value in arrays.items():
            shape, dtype = layouts[name]
            with _member(archive, raw, f"{name}.npy") as out:
                _write_npy(out, shape, dtype, value.chunks if isinstance(value, Streamed) else [value])
        with _member(archive, raw, AUDIO) as out, open(audio_wav, "rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)
    return written


def _layout(value: np.ndarray | Streamed) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(value, Streamed):
        return tuple(int(n) for n in value.shape), np.dtype(value.dtype)
    return tuple(int(n) for n in value.shape), value.dtype


def _member(archive: zipfile.ZipFile, raw: BinaryIO, name: str):
    """Opens a stored member whose data starts on a 64-byte boundary: the local header is padded
    with an extra field, so that every .npy inside (whose own header numpy pads to 64) maps aligned."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    bare = _LOCAL_HEADER.size + len(name.encode()) + _ZIP64_LOCAL_EXTRA + 4
    padding = -(raw.tell() + bare) % _ALIGN
    info.extra = struct.pack("<HH", _PADDING_ID, padding) + bytes(padding)
    return archive.open(info, "w", force_zip64=True)


def _write_npy(out: BinaryIO, shape: tuple[int, ...], dtype: np.dtype, chunks: Iterable[np.ndarray]) -> None:
    if dtype.hasobject or not shape:
        raise ValueError("a training set holds plain numeric arrays of one row or more per item only")
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    rows = 0
    for chunk in chunks:
        chunk = np.ascontiguousarray(chunk, dtype=dtype)
        if chunk.shape[1:] != shape[1:]:
            raise ValueError(f"a chunk of shape {chunk.shape} does not fit an array of shape {shape}")
        out.write(chunk.data)
        rows += len(chunk)
    if rows != shape[0]:
        raise ValueError(f"the chunks gave {rows} rows for an array of shape {shape}")


# Reading ------------------------------------------------------------------------------------------


def open_training_set(path: Path) -> TrainingSet:
    """Maps every array of the training set at `path` in place, after checking that the file is
    one: its format, its version, and that each member is stored whole and as the manifest says."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
            manifest = _manifest(archive, path)
            arrays = {name: _mapped(path, raw, archive, name, spec) for name, spec in manifest["arrays"].items()}
            archive.getinfo(AUDIO)
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise TrainingSetError(f"{path.name} is not a readable training set ({exc}): {_REMAKE}") from exc
    _check_rows(path, manifest, arrays)
    return TrainingSet(path=path, manifest=manifest, arrays=arrays)


_REMAKE = "download it again, or run the crop stage again to remake it"


def _manifest(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise TrainingSetError(f"{path.name} has no readable {MANIFEST} ({exc}): {_REMAKE}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise TrainingSetError(f"{path.name} is not a Twinforge training set (its manifest names no format {FORMAT!r})")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        advice = "update Twinforge to read it" if newer else "run the crop stage again to remake it in the current format"
        raise TrainingSetError(f"{path.name} is a training set of format version {version}, this code reads {FORMAT_VERSION}: {advice}")
    arrays = manifest.get("arrays")
    missing = [name for name in REQUIRED_ARRAYS if not isinstance(arrays, dict) or name not in arrays]
    if missing:
        raise TrainingSetError(f"{path.name} lacks the arrays {', '.join(missing)}: {_REMAKE}")
    return manifest


def _data_offset(raw: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes start: its local header's offset plus that header's own length (the
    central directory does not record the local extra field, which may differ)."""
    raw.seek(info.header_offset)
    fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    if fields[0] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"the local header of {info.filename} is damaged")
    return info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]


def _mapped(path: Path, raw: BinaryIO, archive: zipfile.ZipFile, name: str, spec: dict[str, Any]) -> np.ndarray:
    info = archive.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        raise TrainingSetError(f"{path.name}: {info.filename} is compressed, so it cannot be mapped: {_REMAKE}")
    start = _data_offset(raw, info)
    raw.seek(start)
    try:
        major, _ = np.lib.format.read_magic(raw)
        reader = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(raw)
    except ValueError as exc:
        raise TrainingSetError(f"{path.name}: {info.filename} is not a readable .npy ({exc}): {_REMAKE}") from exc
    if fortran or dtype.hasobject:
        raise TrainingSetError(f"{path.name}: {info.filename} is not a plain C-ordered numeric array: {_REMAKE}")
    if list(shape) != list(spec.get("shape", [])) or dtype.str != spec.get("dtype"):
        raise TrainingSetError(
            f"{path.name}: {info.filename} holds {dtype.str}{list(shape)}, the manifest says "
            f"{spec.get('dtype')}{spec.get('shape')}: {_REMAKE}"
        )
    offset = raw.tell()
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if offset + nbytes > start + info.file_size or offset + nbytes > path.stat().st_size:
        raise TrainingSetError(f"{path.name}: {info.filename} is shorter than its shape says (truncated): {_REMAKE}")
    if nbytes == 0:
        return np.zeros(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape))


def _check_rows(path: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    count = manifest.get("frame_count")
    wrong = [name for name in PER_FRAME if len(arrays[name]) != count]
    if wrong:
        raise TrainingSetError(f"{path.name}: {', '.join(wrong)} do not have one row for each of the {count} frames: {_REMAKE}")


def _wav_layout(header: bytes, path: Path) -> tuple[int, int, int]:
    """(offset of the samples, their byte count, the rate) of a 16-bit mono PCM RIFF header."""
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise TrainingSetError(f"{path.name}: {AUDIO} is not a wav file: {_REMAKE}")
    at, rate = 12, 0
    while at + 8 <= len(header):
        chunk, size = header[at : at + 4], struct.unpack("<I", header[at + 4 : at + 8])[0]
        if chunk == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", header[at + 8 : at + 24])
            if fmt != 1 or channels != 1 or bits != 16:
                raise TrainingSetError(f"{path.name}: {AUDIO} is not 16-bit mono PCM: {_REMAKE}")
        elif chunk == b"data":
            return at + 8, size, rate
        at += 8 + size + size % 2
    raise TrainingSetError(f"{path.name}: {AUDIO} has no sound data: {_REMAKE}")
