"""Keys become paths and object names, so anything that could escape a root is refused up front."""

from __future__ import annotations

import pytest

from host.errors import InvalidArgument
from host.storage.backends import open_blob_store
from host.storage.blobs import blob_key, normalize_sha256, validate_key, validate_prefix


def test_blob_key_layout() -> None:
    assert blob_key("av-1", "intake", "run_2", "video.mp4") == "avatars/av-1/intake/run_2/video.mp4"


@pytest.mark.parametrize(
    "parts",
    [
        ("..", "intake", "r", "n"),
        ("a", "in/take", "r", "n"),
        ("a", "intake", "", "n"),
        ("a", "intake", "r", "my video.mp4"),
        ("a", "intake", "r", ".hidden"),
        ("a", "intake", "r", "x..y"),
        ("a", "intake", "r", "a\\b"),
        ("a", "intake", "r", "n" * 129),
    ],
)
def test_blob_key_rejects_unsafe_parts(parts: tuple[str, str, str, str]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        blob_key(*parts)
    assert caught.value.stage == "storage"
    assert "safe name" in caught.value.advice


@pytest.mark.parametrize("key", ["avatars/a/intake/r/video.mp4", "x", "a-b_c.d/e"])
def test_validate_key_accepts_plain_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key", ["", "../x", "a/../b", "/abs", "a\\b", "a b", "a\x00b", "a//b", "a/", ".tmp/x", "a/./b", "é"]
)
def test_validate_key_rejects(key: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_key(key)


@pytest.mark.parametrize("prefix", ["", "avatars", "avatars/../", "/avatars/"])
def test_validate_prefix_rejects(prefix: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_prefix(prefix)


def test_normalize_sha256() -> None:
    assert normalize_sha256("AB" * 32) == "ab" * 32
    assert normalize_sha256(None) is None
    with pytest.raises(InvalidArgument):
        normalize_sha256("abc")


@pytest.mark.parametrize("url", ["ftp://x/y", "file://relative/path", "s3://key:hunter2@host:9000", "/plain/path"])
def test_open_blob_store_rejects_unknown_forms_without_leaking_secrets(url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        open_blob_store(url)
    assert "file:///" in caught.value.advice and "s3://" in caught.value.advice
    assert "hunter2" not in str(caught.value)
