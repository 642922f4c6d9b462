"""The blob layer: one interface over a local directory and any S3 service, plus the checks both share.

Artifacts (uploads, preprocessed frames, checkpoints) are large, so every path streams in bounded
chunks and hashes as it goes; a blob is only ever visible under its key once it is complete and its
sha256 is recorded, so a reader never mistakes a half-written file for a finished one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from host.errors import IntegrityError, InvalidArgument, NotFound, TooLarge, Unavailable

CHUNK_SIZE = 1 << 20

_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9._/-]+$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    sha256: str


class BlobStore(Protocol):
    """What the host and the workers need from storage; both backends keep the same guarantees."""

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
    ) -> BlobInfo: ...

    def put_file(self, key: str, path: Path, expected_sha256: str | None = None) -> BlobInfo: ...

    def get_file(self, key: str, dest: Path, expected_sha256: str | None = None) -> BlobInfo: ...

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]: ...

    def stat(self, key: str) -> BlobInfo: ...

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def move(self, key: str, new_key: str) -> None: ...

    def presigned_get_url(self, key: str, expires_s: int = 3600) -> str | None: ...


def validate_key(key: str) -> str:
    """Keys become file paths on the local store, so anything that could escape the root is refused.

    Segments starting with a dot are refused too: `.tmp` and `.meta` are the stores' own namespaces.
    """
    advice = "use blob_key(avatar_id, stage, run_id, name) to build keys from safe parts"
    if not key:
        raise InvalidArgument(stage="storage", code="invalid_key", cause="the blob key is empty", advice=advice)
    if "\\" in key or "\x00" in key or key.startswith("/") or not _KEY_RE.match(key):
        raise InvalidArgument(
            stage="storage",
            code="invalid_key",
            cause=f"the blob key {key!r} is absolute or has characters outside A-Z a-z 0-9 . _ / -",
            advice=advice,
        )
    for segment in key.split("/"):
        if not segment or segment.startswith("."):
            raise InvalidArgument(
                stage="storage",
                code="invalid_key",
                cause=f"the blob key {key!r} has an empty, '..' or hidden segment",
                advice=advice,
            )
    return key


def blob_key(avatar_id: str, stage: str, run_id: str, name: str) -> str:
    """Keys are grouped per avatar so its whole lifecycle can be deleted with one prefix."""
    for label, part in (("avatar id", avatar_id), ("stage", stage), ("run id", run_id), ("name", name)):
        if ".." in part or not _PART_RE.match(part):
            raise InvalidArgument(
                stage="storage",
                code="invalid_key",
                cause=f"the {label} {part!r} cannot be part of a blob key",
                advice="use 1 to 128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, "
                "and no '..'; never pass a user's file name, pick a fixed safe name instead",
            )
    return f"avatars/{avatar_id}/{stage}/{run_id}/{name}"


def validate_prefix(prefix: str) -> str:
    """Deletion is by avatar lifecycle only; a prefix without a trailing '/' could match a sibling."""
    if not prefix or not prefix.endswith("/"):
        raise InvalidArgument(
            stage="storage",
            code="invalid_prefix",
            cause=f"the deletion prefix {prefix!r} is empty or does not end with '/'",
            advice="delete a whole folder such as 'avatars/<avatar_id>/'",
        )
    validate_key(prefix[:-1])
    return prefix


def normalize_sha256(value: str | None) -> str | None:
    """Clients send hex in either case; a malformed value is a caller bug, not a corrupt blob."""
    if value is None:
        return None
    lowered = value.lower()
    if not _SHA256_RE.match(lowered):
        raise InvalidArgument(
            stage="storage",
            code="invalid_sha256",
            cause=f"the expected sha256 {value!r} is not 64 hexadecimal characters",
            advice="send the hex digest of the file's sha256 (as printed by sha256sum)",
        )
    return lowered


class HashingMeter:
    """Counts and hashes bytes as they pass, so no store has to hold a whole blob to check it."""

    def __init__(self, key: str, max_bytes: int | None = None) -> None:
        self.key = key
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise TooLarge(
                stage="storage",
                code="blob_too_large",
                cause=f"the blob {self.key} is larger than the limit of {self.max_bytes} bytes",
                advice=f"send a file of at most {self.max_bytes} bytes (trim or re-encode it), "
                "or raise TWINFORGE_MAX_UPLOAD_BYTES if such sizes are expected",
            )
        self._hash.update(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def verify(self, expected_sha256: str | None) -> None:
        if expected_sha256 is not None and expected_sha256 != self.sha256:
            raise IntegrityError(
                stage="storage",
                code="sha256_mismatch",
                cause=f"the bytes received for {self.key} hash to {self.sha256}, not the expected {expected_sha256}",
                advice="the transfer was damaged or the checksum is wrong; send the file again",
            )

    def info(self) -> BlobInfo:
        return BlobInfo(key=self.key, size=self.size, sha256=self.sha256)


def file_chunks(path: Path, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Opens eagerly so a missing file fails at the call, before any upload starts."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise NotFound(
            stage="storage",
            code="file_missing",
            cause=f"the file {path} does not exist",
            advice="check the path; the file may have been removed before it was stored",
        ) from None
    return _read_chunks(handle, chunk_size)


def _read_chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def blob_missing(key: str) -> NotFound:
    return NotFound(
        stage="storage",
        code="blob_missing",
        cause=f"no blob is stored under {key}",
        advice="the artifact was never stored or its avatar was deleted; rerun the stage that makes it",
    )


def disk_full(where: Path, lost: str = "the blob was not stored") -> Unavailable:
    return Unavailable(
        stage="storage",
        code="disk_full",
        cause=f"the disk of {where} is full; {lost}",
        advice=f"free space on the disk holding {where} (old runs, logs), then retry",
    )


@contextmanager
def disk_full_as_unavailable(where: Path, lost: str = "the blob was not stored") -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise disk_full(where, lost) from exc
        raise


def receive_verified(key: str, chunks: Iterable[bytes], dest: Path, expected_sha256: str) -> BlobInfo:
    """Writes next to dest and renames only after the hash matches, so dest is whole or absent."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
    meter = HashingMeter(key)
    try:
        with disk_full_as_unavailable(dest.parent):
            with tmp.open("wb") as out:
                for chunk in chunks:
                    meter.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        if meter.sha256 != expected_sha256:
            raise IntegrityError(
                stage="storage",
                code="blob_corrupt",
                cause=f"the stored blob {key} hashes to {meter.sha256}, not its recorded {expected_sha256}",
                advice="the stored copy is damaged; upload the artifact again or rerun the stage that made it",
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return meter.info()
