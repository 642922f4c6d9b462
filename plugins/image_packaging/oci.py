"""Reproducible OCI pieces: layer tars, canonical JSON blobs, and the image layout on disk.

Every layer is written with sorted entries, mtime 0, owner 0:0 and fixed modes, and gzip with
mtime 0 and no file name, so the same files give the same digests on any machine and any day:
a registry then skips what it already holds, and a rebuilt round re-sends only what changed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from plugins.sdk.errors import StageFailed

LAYOUT_VERSION = "1.0.0"
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
GZIP_LEVEL = 6

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def as_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Descriptor:
        return cls(data["mediaType"], data["digest"], int(data["size"]))


@dataclass(frozen=True)
class Layer:
    descriptor: Descriptor
    diff_id: str  # digest of the uncompressed tar, what the image config lists


@dataclass(frozen=True)
class Entry:
    """One file of a layer: where it lands in the image and where its bytes come from."""

    path: str  # relative to the image's root, no leading slash
    source: Path

    @property
    def mode(self) -> int:
        return 0o755 if self.source.stat().st_mode & 0o111 else 0o644


def canonical(data: Any) -> bytes:
    """Sorted keys, no spaces: one byte string per document, so one digest."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


class _Hashing:
    """Passes bytes on while counting and hashing them: a layer is hashed as it is written."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.sink.write(data)
        return len(data)

    @property
    def digest(self) -> str:
        return f"sha256:{self.hash.hexdigest()}"


def _folders(entries: Iterable[Entry]) -> set[str]:
    folders: set[str] = set()
    for entry in entries:
        folders.update(str(parent) for parent in PurePosixPath(entry.path).parents if str(parent) != ".")
    return folders


def _header(path: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.type, info.mode, info.size = kind, mode, size
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def write_layer(entries: list[Entry], dest: Path, compressed: bool, progress: Progress | None = None) -> Layer:
    """Writes the files (and every folder above them, mode 755) as one tar, parents before
    children; `progress(bytes_done, bytes_total)` after each file."""
    by_path = {entry.path: entry for entry in entries}
    folders = _folders(by_path.values())
    total = sum(entry.source.stat().st_size for entry in by_path.values())
    done = 0
    with dest.open("wb") as raw:
        outer = _Hashing(raw)
        zipped = gzip.GzipFile(filename="", mode="wb", fileobj=outer, mtime=0, compresslevel=GZIP_LEVEL) if compressed else None
        inner = _Hashing(zipped) if zipped else outer
        with tarfile.open(fileobj=inner, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(folders | by_path.keys(), key=lambda p: PurePosixPath(p).parts):
                if path in folders:
                    tar.addfile(_header(path, tarfile.DIRTYPE, 0o755))
                    continue
                entry = by_path[path]
                with entry.source.open("rb") as handle:
                    size = os.fstat(handle.fileno()).st_size
                    tar.addfile(_header(path, tarfile.REGTYPE, entry.mode, size), handle)
                done += size
                if progress:
                    progress(done, total)
        if zipped:
            zipped.close()
    media_type = LAYER_GZIP if compressed else LAYER_TAR
    return Layer(Descriptor(media_type, outer.digest, outer.size), inner.digest)


def folder_entries(folder: Path, prefix: str, keep: Callable[[PurePosixPath], bool] = lambda path: True) -> list[Entry]:
    """The files under `folder` (following no links out of it), placed under `prefix`."""
    entries = []
    for path in sorted(folder.rglob("*")):
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if path.is_file() and keep(relative):
            entries.append(Entry(str(PurePosixPath(prefix) / relative) if prefix else str(relative), path))
    return entries


class Layout:
    """An OCI image layout folder: oci-layout, index.json, blobs/sha256/<hex>."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def create(cls, root: Path) -> Layout:
        layout = cls(root)
        (layout.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (layout.root / "oci-layout").write_bytes(canonical({"imageLayoutVersion": LAYOUT_VERSION}))
        return layout

    def is_layout(self) -> bool:
        return (self.root / "oci-layout").is_file() and (self.root / "index.json").is_file()

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.root / "blobs" / algorithm / hexdigest

    def has(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def add_bytes(self, data: bytes, media_type: str) -> Descriptor:
        descriptor = Descriptor(media_type, f"sha256:{hashlib.sha256(data).hexdigest()}", len(data))
        self.blob_path(descriptor.digest).write_bytes(data)
        return descriptor

    def add_json(self, data: dict[str, Any], media_type: str) -> Descriptor:
        return self.add_bytes(canonical(data), media_type)

    def adopt(self, path: Path, descriptor: Descriptor) -> None:
        """Takes a finished blob in: a hard link when it can (runtime layers are gigabytes)."""
        target = self.blob_path(descriptor.digest)
        if target.exists():
            return
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)

    def read_blob(self, descriptor: Descriptor) -> bytes:
        data = self.blob_path(descriptor.digest).read_bytes()
        if f"sha256:{hashlib.sha256(data).hexdigest()}" != descriptor.digest:
            raise StageFailed(
                "layout_damaged",
                f"the blob {descriptor.digest} in {self.root} does not match its digest",
                "copy the image layout again (skopeo copy), or build it again",
            )
        return data

    def read_json(self, descriptor: Descriptor) -> dict[str, Any]:
        return json.loads(self.read_blob(descriptor))

    def index(self) -> dict[str, Any]:
        return json.loads((self.root / "index.json").read_text())

    def tags(self) -> dict[str, Descriptor]:
        return {
            item.get("annotations", {}).get(REF_NAME, ""): Descriptor.from_json(item)
            for item in self.index().get("manifests", [])
        }

    def write_index(self, manifest: Descriptor, tag: str) -> None:
        entry = {**manifest.as_json(), "annotations": {REF_NAME: tag}}
        index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [entry]}
        (self.root / "index.json").write_bytes(canonical(index))


def tar_folder(folder: Path, dest: Path) -> Descriptor:
    """The whole layout as one reproducible tar (the stored artifact; `skopeo copy oci-archive:`
    reads it as it is)."""
    return write_layer(folder_entries(folder, ""), dest, compressed=False).descriptor
