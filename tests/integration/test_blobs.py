"""Both blob stores must keep the same promises: whole-or-nothing writes, verified reads, safe keys."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import socket
import time
import urllib.request
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from minio import Minio

from host.errors import IntegrityError, InvalidArgument, NotFound, TooLarge, Unavailable
from host.storage.backends import open_blob_store
from host.storage.blobs import BlobStore, blob_key, sha256_file
from host.storage.local import LocalBlobStore
from host.storage.s3 import META_SHA256, S3BlobStore

SMALL_CHUNK = 64 * 1024
# Over one 8 MiB S3 part, so uploads take the multipart path, and not a multiple of the chunk size.
PAYLOAD = random.Random(7).randbytes(9 * 1024 * 1024 + 123)
KEY = blob_key("av1", "intake", "run1", "video.mp4")


def chunked(data: bytes, size: int = SMALL_CHUNK) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return open_blob_store(f"file://{tmp_path / 'blobs'}")
    return open_blob_store(request.getfixturevalue("s3_url"))


def raw_client(store: S3BlobStore) -> Minio:
    """A client of its own, so tests tamper with the bucket the way an outside party would."""
    endpoint = urlsplit(store.url).netloc
    return Minio(endpoint, access_key="testing", secret_key="testing", secure=False, region="us-east-1")


def stored_names(store: BlobStore) -> set[str]:
    """Everything the store holds, its own temporary and metadata files included."""
    if isinstance(store, LocalBlobStore):
        return {str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file()}
    assert isinstance(store, S3BlobStore)
    return {o.object_name for o in raw_client(store).list_objects(store.bucket, recursive=True)}


def corrupt(store: BlobStore, key: str) -> None:
    """Flips the stored bytes but keeps the recorded sha256, as bit rot or a bad copy would."""
    damaged = b"X" + PAYLOAD[1:]
    if isinstance(store, LocalBlobStore):
        (store.root / key).write_bytes(damaged)
        return
    assert isinstance(store, S3BlobStore)
    recorded = store.stat(key).sha256
    raw_client(store).put_object(
        store.bucket, key, BytesIO(damaged), len(damaged), metadata={META_SHA256: recorded}
    )


@pytest.mark.parametrize("with_expected", [False, True], ids=["unknown-sha", "expected-sha"])
def test_stream_round_trip(store: BlobStore, with_expected: bool) -> None:
    expected = sha256(PAYLOAD) if with_expected else None
    info = store.put_stream(KEY, chunked(PAYLOAD), expected_sha256=expected)

    assert (info.key, info.size, info.sha256) == (KEY, len(PAYLOAD), sha256(PAYLOAD))
    assert store.stat(KEY) == info
    assert store.exists(KEY)
    chunks = list(store.iter_chunks(KEY, chunk_size=100_000))
    assert max(len(c) for c in chunks) <= 100_000
    assert b"".join(chunks) == PAYLOAD
    assert stored_names(store) - {KEY} <= {f".meta/{KEY}.sha256"}


def test_file_round_trip(store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    put = store.put_file(KEY, src, expected_sha256=sha256_file(src).upper())

    dest = tmp_path / "out" / "copy.bin"
    got = store.get_file(KEY, dest)

    assert put == got == store.stat(KEY)
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.bin"]


def test_expected_sha256_mismatch_stores_nothing(store: BlobStore) -> None:
    with pytest.raises(IntegrityError) as caught:
        store.put_stream(KEY, chunked(PAYLOAD), expected_sha256="0" * 64)

    assert caught.value.code == "sha256_mismatch"
    assert not store.exists(KEY)
    assert stored_names(store) == set()


@pytest.mark.parametrize("limit", [1024 * 1024, len(PAYLOAD) - 1], ids=["early", "last-byte"])
def test_max_bytes_exceeded_stores_nothing(store: BlobStore, limit: int) -> None:
    with pytest.raises(TooLarge) as caught:
        store.put_stream(KEY, chunked(PAYLOAD), max_bytes=limit)

    assert caught.value.stage == "storage"
    assert str(limit) in caught.value.advice
    assert not store.exists(KEY)
    assert stored_names(store) == set()


def test_corrupted_blob_is_detected_and_leaves_no_file(store: BlobStore, tmp_path: Path) -> None:
    store.put_stream(KEY, chunked(PAYLOAD))
    corrupt(store, KEY)
    dest_dir = tmp_path / "downloads"

    with pytest.raises(IntegrityError) as caught:
        store.get_file(KEY, dest_dir / "video.mp4")

    assert caught.value.code == "blob_corrupt"
    assert list(dest_dir.iterdir()) == []


def test_get_file_checks_the_callers_hash(store: BlobStore, tmp_path: Path) -> None:
    store.put_stream(KEY, chunked(PAYLOAD))

    with pytest.raises(IntegrityError):
        store.get_file(KEY, tmp_path / "x.bin", expected_sha256="f" * 64)

    assert not (tmp_path / "x.bin").exists()


def test_missing_blob_is_not_found(store: BlobStore, tmp_path: Path) -> None:
    assert not store.exists(KEY)
    with pytest.raises(NotFound):
        store.stat(KEY)
    with pytest.raises(NotFound):
        store.iter_chunks(KEY)
    with pytest.raises(NotFound):
        store.get_file(KEY, tmp_path / "x.bin")


def test_delete_prefix_deletes_only_under_the_prefix(store: BlobStore) -> None:
    doomed = [blob_key("a1", "intake", "r1", "v.mp4"), blob_key("a1", "train", "r2", "ckpt.pt")]
    kept = [blob_key("a10", "intake", "r1", "v.mp4"), blob_key("a2", "intake", "r1", "v.mp4")]
    for key in doomed + kept:
        store.put_stream(key, [key.encode()])

    assert store.delete_prefix("avatars/a1/") == 2

    assert [store.exists(k) for k in doomed + kept] == [False, False, True, True]
    assert store.delete_prefix("avatars/a1/") == 0
    for prefix in ("", "avatars", "../", "/avatars/"):
        with pytest.raises(InvalidArgument):
            store.delete_prefix(prefix)


@pytest.mark.parametrize("key", ["../x", "/abs", "a\\b", "with space", "avatars/../x", "a//b", ".tmp/x"])
def test_unsafe_keys_are_refused(store: BlobStore, key: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        store.put_stream(key, [b"x"])
    with pytest.raises(InvalidArgument):
        store.get_file(key, tmp_path / "x")
    assert stored_names(store) == set()


def test_presigned_url(store: BlobStore) -> None:
    store.put_stream(KEY, chunked(PAYLOAD))

    url = store.presigned_get_url(KEY, expires_s=60)

    if isinstance(store, LocalBlobStore):
        assert url is None
        return
    assert url is not None
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == PAYLOAD


def test_unreachable_s3_fails_fast_with_advice() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = S3BlobStore(f"127.0.0.1:{port}", "testing", "testing", "bucket", secure=False, retries=1, timeout_s=2)

    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        store.put_stream(KEY, chunked(PAYLOAD))
    with pytest.raises(Unavailable):
        store.stat(KEY)

    assert time.monotonic() - started < 10
    assert caught.value.code == "storage_unavailable"
    assert f"127.0.0.1:{port}" in caught.value.cause


def test_local_disk_full_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalBlobStore(tmp_path / "blobs")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(Unavailable) as caught:
        store.put_stream(KEY, chunked(PAYLOAD))

    assert caught.value.code == "disk_full"
    assert str(store.root) in caught.value.cause
    assert stored_names(store) == set()
