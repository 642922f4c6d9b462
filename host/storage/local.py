"""Blobs as plain files under one directory: the default for a single machine.

Each blob's sha256 lives in `<root>/.meta/<key>.sha256`, so `stat` answers without rereading gigabytes.
Writes go to `<root>/.tmp/` first: it is on the same filesystem, so the final rename is atomic.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from host.errors import IntegrityError, InvalidArgument
from host.storage.blobs import (
    CHUNK_SIZE,
    BlobInfo,
    HashingMeter,
    blob_missing,
    disk_full_as_unavailable,
    file_chunks,
    normalize_sha256,
    receive_verified,
    validate_key,
    validate_prefix,
)


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / ".tmp"
        self._meta = root / ".meta"
        with disk_full_as_unavailable(root):
            self._tmp.mkdir(parents=True, exist_ok=True)
            self._meta.mkdir(parents=True, exist_ok=True)

    def _data_path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _meta_path(self, key: str) -> Path:
        return self._meta / f"{validate_key(key)}.sha256"

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
    ) -> BlobInfo:
        """Both files are synced before the renames, so a rename never points at unwritten bytes.

        The sidecar is renamed before the data, so a visible blob always has a recorded hash.

        Overwriting a key leaves a moment where old bytes meet the new hash; a reader then gets an
        IntegrityError rather than wrong data, and keys carry a run id so overwrites are rare.
        """
        data_path, meta_path = self._data_path(key), self._meta_path(key)
        expected = normalize_sha256(expected_sha256)
        meter = HashingMeter(key, max_bytes)
        token = uuid.uuid4().hex
        tmp_data, tmp_meta = self._tmp / f"{token}.data", self._tmp / f"{token}.sha256"
        try:
            with disk_full_as_unavailable(self.root):
                with tmp_data.open("wb") as out:
                    for chunk in chunks:
                        meter.update(chunk)
                        out.write(chunk)
                    os.fsync(out.fileno())
                meter.verify(expected)
                with tmp_meta.open("w", encoding="ascii") as out:
                    out.write(meter.sha256)
                    os.fsync(out.fileno())
                with _key_conflicts(key):
                    data_path.parent.mkdir(parents=True, exist_ok=True)
                    meta_path.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp_meta, meta_path)
                    os.replace(tmp_data, data_path)
        finally:
            tmp_data.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)
        return meter.info()

    def put_file(self, key: str, path: Path, expected_sha256: str | None = None) -> BlobInfo:
        return self.put_stream(key, file_chunks(path), expected_sha256)

    def get_file(self, key: str, dest: Path, expected_sha256: str | None = None) -> BlobInfo:
        expected = normalize_sha256(expected_sha256) or self.stat(key).sha256
        return receive_verified(key, self.iter_chunks(key), dest, expected)

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Opens eagerly so a missing blob fails at the call, before a response starts streaming."""
        path = self._data_path(key)
        if not path.is_file():
            raise blob_missing(key)
        return file_chunks(path, chunk_size)

    def stat(self, key: str) -> BlobInfo:
        data_path, meta_path = self._data_path(key), self._meta_path(key)
        if not data_path.is_file():
            raise blob_missing(key)
        try:
            sha256 = meta_path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise IntegrityError(
                stage="storage",
                code="blob_unrecorded",
                cause=f"the blob {key} has no recorded sha256 in {self._meta}",
                advice="its content cannot be trusted; upload the artifact again or rerun the stage that made it",
            ) from None
        return BlobInfo(key=key, size=data_path.stat().st_size, sha256=sha256)

    def exists(self, key: str) -> bool:
        return self._data_path(key).is_file()

    def delete_prefix(self, prefix: str) -> int:
        """Data goes before metadata, so no moment shows a blob without its hash."""
        validate_prefix(prefix)
        data_dir, meta_dir = self.root / prefix, self._meta / prefix
        if not data_dir.is_dir():
            return 0
        deleted = sum(1 for path in data_dir.rglob("*") if path.is_file())
        shutil.rmtree(data_dir)
        shutil.rmtree(meta_dir, ignore_errors=True)
        return deleted

    def move(self, key: str, new_key: str) -> None:
        """Data goes first, so the old key stops being served at the first rename; the recorded
        hash follows, so the moved blob keeps the sha256 it should have."""
        data_path, meta_path = self._data_path(key), self._meta_path(key)
        new_data, new_meta = self._data_path(new_key), self._meta_path(new_key)
        if not data_path.is_file():
            raise blob_missing(key)
        with disk_full_as_unavailable(self.root), _key_conflicts(new_key):
            new_data.parent.mkdir(parents=True, exist_ok=True)
            new_meta.parent.mkdir(parents=True, exist_ok=True)
            os.replace(data_path, new_data)
            if meta_path.is_file():
                os.replace(meta_path, new_meta)

    def presigned_get_url(self, key: str, expires_s: int = 3600) -> str | None:
        """A directory has no URLs of its own; the host proxies the download instead."""
        validate_key(key)
        return None


@contextmanager
def _key_conflicts(key: str) -> Iterator[None]:
    """Keys map to paths, so 'a' and 'a/b' cannot both exist here (S3 would allow it)."""
    try:
        yield
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        raise InvalidArgument(
            stage="storage",
            code="key_conflict",
            cause=f"the blob key {key} clashes with an existing key that is a folder or file prefix of it",
            advice="pick a key that is not a prefix of another key, e.g. with blob_key()",
        ) from exc
