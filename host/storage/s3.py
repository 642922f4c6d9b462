"""Blobs in any S3 service (MinIO, AWS, moto in tests) through the minio client.

The sha256 travels as user metadata (`x-amz-meta-sha256`) so `stat` is one HEAD request. Uploads use
unknown-length put_object: the object only appears when its last part lands, and the client always
reads the stream to its end before sending that part, which is where size and checksum are enforced.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import REPLACE, CopySource
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error
from urllib3.util.retry import Retry

from host.errors import IntegrityError, InvalidArgument, NotFound, Unavailable
from host.storage.blobs import (
    CHUNK_SIZE,
    BlobInfo,
    HashingMeter,
    blob_missing,
    file_chunks,
    normalize_sha256,
    receive_verified,
    validate_key,
    validate_prefix,
)

logger = logging.getLogger(__name__)

META_SHA256 = "x-amz-meta-sha256"
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PRESIGN_S = 7 * 24 * 3600

_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})
_DENIED_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"})


class _ChunkReader:
    """Adapts an iterator of chunks to the read(n) minio wants, checking size and hash on the way."""

    def __init__(self, chunks: Iterable[bytes], meter: HashingMeter, expected_sha256: str | None) -> None:
        self._chunks = iter(chunks)
        self._meter = meter
        self._expected = expected_sha256
        self._rest = b""
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        pieces, have = [self._rest], len(self._rest)
        self._rest = b""
        while not self._ended and (size < 0 or have < size):
            chunk = next(self._chunks, None)
            if chunk is None:
                self._ended = True
                self._meter.verify(self._expected)
                break
            self._meter.update(chunk)
            pieces.append(chunk)
            have += len(chunk)
        data = b"".join(pieces)
        if 0 <= size < len(data):
            data, self._rest = data[:size], data[size:]
        return data


class S3BlobStore:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str = "us-east-1",
        retries: int = 3,
        retry_backoff_s: float = 0.2,
        timeout_s: float = 60.0,
        part_size: int = 8 * 1024 * 1024,
    ) -> None:
        """`part_size` bounds the memory of an upload; `retries` bounds how long an outage stalls a caller.

        Retries happen per request (one part, one HEAD), with waits growing from `retry_backoff_s`:
        a part's bytes are already in memory, so resending it never rereads the caller's stream."""
        if part_size < MIN_PART_SIZE:
            raise InvalidArgument(
                stage="storage",
                code="invalid_part_size",
                cause=f"the S3 part size {part_size} is below the 5 MiB that S3 requires",
                advice=f"use a part size of at least {MIN_PART_SIZE} bytes",
            )
        self.bucket = bucket
        self.part_size = part_size
        self.url = f"{'https' if secure else 'http'}://{endpoint}"
        self.attempts = retries + 1
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=Retry(total=retries, backoff_factor=retry_backoff_s, status_forcelist=(500, 502, 503, 504)),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key or None,
            secret_key=secret_key or None,
            secure=secure,
            region=region,
            http_client=http,
        )

    @contextmanager
    def _translated(self, key: str | None = None) -> Iterator[None]:
        """Callers see the three-part errors of host.errors, never a client library's exceptions."""
        try:
            yield
        except S3Error as exc:
            if key is not None and exc.code in _MISSING_CODES:
                raise blob_missing(key) from exc
            if exc.code in _DENIED_CODES:
                raise Unavailable(
                    stage="storage",
                    code="storage_denied",
                    cause=f"the storage service at {self.url} refused access to bucket {self.bucket} ({exc.code})",
                    advice="check the access key and secret in TWINFORGE_STORAGE_URL and the bucket's policy",
                ) from exc
            raise Unavailable(
                stage="storage",
                code="storage_error",
                cause=f"the storage service at {self.url} answered {exc.code}: {exc.message}",
                advice=f"check the service's logs and that bucket {self.bucket} exists, then retry",
            ) from exc
        except (urllib3.exceptions.HTTPError, MinioException) as exc:
            raise Unavailable(
                stage="storage",
                code="storage_unavailable",
                cause=f"the storage service at {self.url} cannot be reached after {self.attempts} attempts "
                f"({type(exc).__name__}: {exc})",
                advice="check that MinIO/S3 is running there, that host, port and secure= in "
                "TWINFORGE_STORAGE_URL are right and the network allows it, then retry; "
                "TWINFORGE_STORAGE_RETRIES and TWINFORGE_STORAGE_TIMEOUT_S set how long it waits",
            ) from exc

    def ensure_bucket(self) -> None:
        with self._translated():
            if self._client.bucket_exists(self.bucket):
                return
            try:
                self._client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code != "BucketAlreadyOwnedByYou":
                    raise

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
    ) -> BlobInfo:
        """With a known hash the upload goes straight to `key`, since a mismatch aborts it at EOF.

        Without one, the hash is only known at the end, after the metadata was sent: the bytes land
        under a temporary key and a server-side copy publishes them with their hash.
        """
        validate_key(key)
        expected = normalize_sha256(expected_sha256)
        meter = HashingMeter(key, max_bytes)
        reader = _ChunkReader(chunks, meter, expected)
        if expected is not None:
            self._upload(key, reader, {META_SHA256: expected})
            return meter.info()
        tmp = f".tmp/{uuid.uuid4().hex}"
        self._upload(tmp, reader, {})
        try:
            with self._translated(key):
                self._client.copy_object(
                    self.bucket,
                    key,
                    CopySource(self.bucket, tmp),
                    metadata={META_SHA256: meter.sha256},
                    metadata_directive=REPLACE,
                )
        finally:
            self._discard(tmp)
        return meter.info()

    def _upload(self, key: str, reader: _ChunkReader, metadata: dict[str, str]) -> None:
        """One part in flight at a time keeps memory at about one part size."""
        with self._translated(key):
            self._client.put_object(
                self.bucket,
                key,
                reader,  # type: ignore[arg-type]
                length=-1,
                part_size=self.part_size,
                metadata=metadata,  # type: ignore[arg-type]
                num_parallel_uploads=1,
            )

    def _discard(self, tmp: str) -> None:
        """A leftover temporary object is harmless (keys never start with '.'), so it must not mask the real outcome."""
        try:
            self._client.remove_object(self.bucket, tmp)
        except (urllib3.exceptions.HTTPError, MinioException) as exc:
            logger.warning("could not remove temporary object %s from bucket %s: %s", tmp, self.bucket, exc)

    def put_file(self, key: str, path: Path, expected_sha256: str | None = None) -> BlobInfo:
        return self.put_stream(key, file_chunks(path), expected_sha256)

    def get_file(self, key: str, dest: Path, expected_sha256: str | None = None) -> BlobInfo:
        """The hash is read from the same response as the bytes, so an overwrite cannot slip between."""
        expected = normalize_sha256(expected_sha256)
        response = self._open(key)
        try:
            recorded = response.headers.get(META_SHA256)
            if expected is None and recorded is None:
                raise self._unrecorded(key)
            return receive_verified(key, self._stream(key, response, CHUNK_SIZE), dest, expected or recorded)
        finally:
            response.close()
            response.release_conn()

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Opens eagerly so a missing blob fails at the call, before a response starts streaming."""
        return self._stream(key, self._open(key), chunk_size)

    def _open(self, key: str) -> urllib3.BaseHTTPResponse:
        validate_key(key)
        with self._translated(key):
            return self._client.get_object(self.bucket, key)

    def _stream(self, key: str, response: urllib3.BaseHTTPResponse, chunk_size: int) -> Iterator[bytes]:
        try:
            with self._translated(key):
                yield from response.stream(chunk_size)
        finally:
            response.close()
            response.release_conn()

    def stat(self, key: str) -> BlobInfo:
        validate_key(key)
        with self._translated(key):
            obj = self._client.stat_object(self.bucket, key)
        sha256 = obj.metadata.get(META_SHA256) if obj.metadata else None
        if sha256 is None:
            raise self._unrecorded(key)
        return BlobInfo(key=key, size=obj.size or 0, sha256=sha256)

    def _unrecorded(self, key: str) -> IntegrityError:
        return IntegrityError(
            stage="storage",
            code="blob_unrecorded",
            cause=f"the object {key} in bucket {self.bucket} has no {META_SHA256} metadata",
            advice="it was not written by Twinforge or was altered; upload the artifact again",
        )

    def exists(self, key: str) -> bool:
        validate_key(key)
        try:
            with self._translated(key):
                self._client.stat_object(self.bucket, key)
        except NotFound:
            return False
        return True

    def delete_prefix(self, prefix: str) -> int:
        validate_prefix(prefix)
        with self._translated():
            names = [
                obj.object_name
                for obj in self._client.list_objects(self.bucket, prefix=prefix, recursive=True)
                if obj.object_name is not None
            ]
            errors = list(self._client.remove_objects(self.bucket, (DeleteObject(name) for name in names)))
        if errors:
            raise Unavailable(
                stage="storage",
                code="storage_error",
                cause=f"{len(errors)} of {len(names)} objects under {prefix} could not be deleted "
                f"(first: {errors[0].name}: {errors[0].code} {errors[0].message})",
                advice="check the bucket's policy and the service's logs, then delete the avatar again",
            )
        return len(names)

    def move(self, key: str, new_key: str) -> None:
        """A server-side copy keeps the bytes and their recorded sha256 as they are; the old key
        goes only once the copy exists."""
        validate_key(key)
        validate_key(new_key)
        with self._translated(key):
            self._client.copy_object(self.bucket, new_key, CopySource(self.bucket, key))
            self._client.remove_object(self.bucket, key)

    def presigned_get_url(self, key: str, expires_s: int = 3600) -> str | None:
        """Clients fetch straight from the service, so large downloads bypass the host."""
        validate_key(key)
        if not 1 <= expires_s <= MAX_PRESIGN_S:
            raise InvalidArgument(
                stage="storage",
                code="invalid_expiry",
                cause=f"a presigned URL cannot live {expires_s} seconds",
                advice=f"pick between 1 and {MAX_PRESIGN_S} seconds (7 days)",
            )
        with self._translated(key):
            return self._client.presigned_get_object(self.bucket, key, expires=timedelta(seconds=expires_s))
