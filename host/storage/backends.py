"""Which blob store a storage URL names: a local directory or an S3 service. Kept apart from the
blob layer's shared checks (host/storage/blobs.py), which both backends import."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from host.errors import InvalidArgument
from host.storage.blobs import BlobStore
from host.storage.local import LocalBlobStore
from host.storage.s3 import S3BlobStore


def open_blob_store(url: str, retries: int = 3, retry_backoff_s: float = 0.2, timeout_s: float = 60.0) -> BlobStore:
    """One URL in settings picks the backend, so deployments switch storage without code changes.

    `retries`, `retry_backoff_s` and `timeout_s` bound how long an S3 outage stalls a caller before it
    gets a clear error; a local directory has no network to wait for."""
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return LocalBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "s3" and parts.hostname and parts.path.strip("/"):
        query = parse_qs(parts.query)
        endpoint = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        store = S3BlobStore(
            endpoint=endpoint,
            access_key=unquote(parts.username or ""),
            secret_key=unquote(parts.password or ""),
            bucket=parts.path.strip("/"),
            secure=query.get("secure", ["true"])[0].lower() not in ("false", "0", "no"),
            region=query.get("region", ["us-east-1"])[0],
            retries=retries,
            retry_backoff_s=retry_backoff_s,
            timeout_s=timeout_s,
        )
        store.ensure_bucket()
        return store
    raise InvalidArgument(
        stage="storage",
        code="invalid_storage_url",
        cause=f"the storage URL {_redact(url)!r} is not understood",
        advice="set TWINFORGE_STORAGE_URL to file:///absolute/path or "
        "s3://ACCESS:SECRET@host:port/bucket?secure=false&region=us-east-1",
    )


def _redact(url: str) -> str:
    """Storage URLs carry secrets; error messages end up in logs and chat replies."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()
