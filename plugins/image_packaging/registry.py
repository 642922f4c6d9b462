"""Push and pull over the OCI distribution HTTP API, with the standard library's http.client.

A push asks the registry for each blob first (HEAD) and uploads only what it lacks, in one
POST + PUT per blob, then puts the manifest under its tag; the registry's answer is checked
against the manifest's own digest. Auth: HTTP basic with the configured user, or the Bearer
token challenge (the token endpoint named in WWW-Authenticate, asked with the same user).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode, urljoin, urlsplit

from plugins.image_packaging.oci import INDEX, MANIFEST, Descriptor, Layout
from plugins.sdk.errors import StageFailed

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join((MANIFEST, INDEX, DOCKER_MANIFEST, DOCKER_LIST))
LISTS = (INDEX, DOCKER_LIST)
BLOCK = 1 << 20
TIMEOUT_S = 60.0
REDIRECTS = 5
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')

Sent = Callable[[int], None]


@dataclass(frozen=True)
class Reference:
    """registry/repository:tag or registry/repository@sha256:..."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        registry, _, rest = text.partition("/")
        if not rest or not ("." in registry or ":" in registry or registry == "localhost"):
            raise StageFailed(
                "bad_reference",
                f"{text!r} names no registry: an image reference here is host:port/repository:tag",
                "write the registry's address first, for example 127.0.0.1:5000/bases/python:3.11",
            )
        rest, _, digest = rest.partition("@")
        repository, _, tag = rest.rpartition(":") if ":" in rest.rsplit("/", 1)[-1] else (rest, "", "")
        return cls(registry, repository, tag or (None if digest else "latest"), digest or None)

    @property
    def pinned(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}" + (f"@{self.digest}" if self.digest else f":{self.tag}")


@dataclass
class PushResult:
    digest: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_sent: int = 0


def _connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    """A connection to the URL's host, and the request target on it."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.netloc, timeout=TIMEOUT_S, blocksize=BLOCK, context=ssl.create_default_context()), target
    return http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT_S, blocksize=BLOCK), target


class _Counting:
    """A file body that reports the bytes http.client has read from it."""

    def __init__(self, handle: BinaryIO, sent: Sent) -> None:
        self.handle = handle
        self.sent = sent

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.sent(len(data))
        return data


@dataclass
class _Answer:
    status: int
    headers: http.client.HTTPMessage
    response: http.client.HTTPResponse
    connection: http.client.HTTPConnection

    def body(self) -> bytes:
        try:
            return self.response.read()
        finally:
            self.connection.close()


class RegistryClient:
    def __init__(self, address: str, tls: bool = False, username: str = "", password: str = "") -> None:
        self.address = address
        self.scheme = "https" if tls else "http"
        self.username = username
        self.password = password
        self._authorization: str | None = None

    def _unreachable(self, exc: Exception) -> StageFailed:
        return StageFailed(
            "registry_unreachable",
            f"the registry {self.scheme}://{self.address} cannot be reached: {exc}",
            "start the registry or correct its address (TWINFORGE_REGISTRY, host:port) and TWINFORGE_REGISTRY_TLS; "
            "the image stays in the data storage, so packaging again pushes it without rebuilding the runtime layer",
        )

    def _refused(self, what: str, answer: _Answer) -> StageFailed:
        detail = answer.body()[:300].decode(errors="replace")
        if answer.status in (401, 403):
            return StageFailed(
                "registry_denied",
                f"the registry {self.address} refused to {what} (HTTP {answer.status}): {detail}",
                "set TWINFORGE_REGISTRY_USERNAME and TWINFORGE_REGISTRY_PASSWORD to an account allowed to push to twinforge/*",
            )
        return StageFailed(
            "registry_error",
            f"the registry {self.address} answered HTTP {answer.status} when asked to {what}: {detail}",
            "look at the registry's log; when it is out of space or read-only, fix that and package again",
        )

    def _open(self, method: str, url: str, headers: dict[str, str], body: Callable[[], Any] | None) -> _Answer:
        connection, target = _connection(url)
        sent = dict(headers)
        if urlsplit(url).netloc == self.address and self._authorization:
            sent["Authorization"] = self._authorization
        try:
            connection.request(method, target, body=body() if body else None, headers=sent)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise self._unreachable(exc) from exc
        return _Answer(response.status, response.headers, response, connection)

    def _authenticate(self, challenge: str) -> bool:
        """Answers a 401's challenge; False when there is nothing to answer it with."""
        scheme, _, params = challenge.partition(" ")
        basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode() if self.username else None
        if scheme.lower() == "basic":
            self._authorization = f"Basic {basic}" if basic else None
            return basic is not None
        if scheme.lower() != "bearer":
            return False
        fields = dict(_CHALLENGE.findall(params))
        query = urlencode({name: fields[name] for name in ("service", "scope") if name in fields})
        token_url = fields.get("realm", "") + (f"?{query}" if query else "")
        connection, target = _connection(token_url)
        try:
            connection.request("GET", target, headers={"Authorization": f"Basic {basic}"} if basic else {})
            response = connection.getresponse()
            answer = json.loads(response.read() or b"{}") if response.status == 200 else {}
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise self._unreachable(exc) from exc
        finally:
            connection.close()
        token = answer.get("token") or answer.get("access_token")
        self._authorization = f"Bearer {token}" if token else None
        return token is not None

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: Callable[[], Any] | None = None) -> _Answer:
        """One call, answering one auth challenge and following redirects (blob storage often
        redirects a GET elsewhere)."""
        url = path if "://" in path else f"{self.scheme}://{self.address}{path}"
        answered = False
        for _ in range(REDIRECTS):
            answer = self._open(method, url, headers or {}, body)
            if answer.status == 401 and not answered:
                answered = True
                if self._authenticate(answer.headers.get("WWW-Authenticate", "")):
                    answer.body()
                    continue
                return answer
            if answer.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD"):
                url = urljoin(url, answer.headers["Location"])
                answer.body()
                continue
            return answer
        raise StageFailed("registry_error", f"the registry {self.address} redirected {path} more than {REDIRECTS} times", "look at the registry's configuration")

    def blob_exists(self, repository: str, digest: str) -> bool:
        answer = self.request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if answer.status in (200, 404):
            answer.body()
            return answer.status == 200
        raise self._refused(f"say whether it has {digest}", answer)

    def upload_blob(self, repository: str, path: Path, descriptor: Descriptor, sent: Sent) -> None:
        started = self.request("POST", f"/v2/{repository}/blobs/uploads/", {"Content-Length": "0"})
        if started.status != 202:
            raise self._refused(f"start an upload to {repository}", started)
        started.body()
        location = urljoin(f"{self.scheme}://{self.address}/", started.headers["Location"])
        target = location + ("&" if "?" in location else "?") + f"digest={quote(descriptor.digest)}"
        handles: list[BinaryIO] = []

        def body() -> _Counting:
            handles.append(path.open("rb"))
            return _Counting(handles[-1], sent)

        try:
            answer = self.request(
                "PUT", target, {"Content-Type": "application/octet-stream", "Content-Length": str(descriptor.size)}, body
            )
        finally:
            for handle in handles:
                handle.close()
        if answer.status != 201:
            raise self._refused(f"take the blob {descriptor.digest}", answer)
        answer.body()

    def put_manifest(self, repository: str, tag: str, data: bytes, media_type: str) -> str:
        answer = self.request("PUT", f"/v2/{repository}/manifests/{tag}", {"Content-Type": media_type, "Content-Length": str(len(data))}, lambda: data)
        if answer.status != 201:
            raise self._refused(f"take the manifest {repository}:{tag}", answer)
        answer.body()
        return answer.headers.get("Docker-Content-Digest") or f"sha256:{hashlib.sha256(data).hexdigest()}"

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        answer = self.request("GET", f"/v2/{repository}/manifests/{reference}", {"Accept": ACCEPT})
        if answer.status == 404:
            answer.body()
            raise StageFailed(
                "image_missing",
                f"the registry {self.address} has no image {repository}:{reference}" if ":" not in reference
                else f"the registry {self.address} has no image {repository}@{reference}",
                "push it there first (skopeo copy ... docker://HOST:PORT/REPOSITORY:TAG), or correct the reference",
            )
        if answer.status != 200:
            raise self._refused(f"give the manifest {repository}:{reference}", answer)
        media_type = answer.headers.get("Content-Type", "").split(";")[0]
        return answer.body(), media_type

    def get_blob(self, repository: str, descriptor: Descriptor, dest: Path) -> None:
        """Streams the blob to `dest`, checking its digest before it is kept."""
        answer = self.request("GET", f"/v2/{repository}/blobs/{descriptor.digest}")
        if answer.status != 200:
            raise self._refused(f"give the blob {descriptor.digest}", answer)
        digest = hashlib.sha256()
        partial = dest.with_name(dest.name + ".partial")
        try:
            with partial.open("wb") as out:
                while chunk := answer.response.read(BLOCK):
                    digest.update(chunk)
                    out.write(chunk)
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from exc
        finally:
            answer.connection.close()
        if f"sha256:{digest.hexdigest()}" != descriptor.digest:
            partial.unlink()
            raise StageFailed(
                "registry_error",
                f"the blob {descriptor.digest} from {self.address} arrived with another digest",
                "try again; if it persists, the registry's storage is damaged",
            )
        partial.replace(dest)


def push(client: RegistryClient, layout: Layout, manifest: Descriptor, repository: str, tag: str, sent: Sent) -> PushResult:
    """Pushes the image whose manifest is in the layout: blobs the registry lacks, then the
    manifest by tag. `sent(bytes)` as bytes leave, and for blobs found there."""
    document = layout.read_json(manifest)
    result = PushResult(manifest.digest)
    for blob in [Descriptor.from_json(document["config"])] + [Descriptor.from_json(item) for item in document["layers"]]:
        if client.blob_exists(repository, blob.digest):
            result.skipped.append(blob.digest)
            sent(blob.size)
            continue

        def counted(count: int) -> None:
            result.bytes_sent += count
            sent(count)

        client.upload_blob(repository, layout.blob_path(blob.digest), blob, counted)
        result.uploaded.append(blob.digest)
    answered = client.put_manifest(repository, tag, layout.read_blob(manifest), manifest.media_type)
    if answered != manifest.digest:
        raise StageFailed(
            "registry_error",
            f"the registry stored the manifest as {answered}, not as its digest {manifest.digest}",
            "the registry rewrote the manifest; use a registry that keeps OCI manifests as they are (distribution 2.7 or later)",
        )
    return result


def _platform_manifest(client: RegistryClient, repository: str, index: dict[str, Any], architecture: str, os_name: str) -> Descriptor:
    for item in index.get("manifests", []):
        wanted = item.get("platform", {})
        if wanted.get("architecture") == architecture and wanted.get("os") == os_name:
            return Descriptor.from_json(item)
    offered = ", ".join(f"{m.get('platform', {}).get('os')}/{m.get('platform', {}).get('architecture')}" for m in index.get("manifests", []))
    raise StageFailed(
        "base_platform",
        f"{client.address}/{repository} has no image for {os_name}/{architecture} (it has {offered or 'none'})",
        f"use a base built for {os_name}/{architecture}",
    )


def pull(client: RegistryClient, reference: Reference, layout: Layout, platform: tuple[str, str]) -> Descriptor:
    """The image's manifest, config and layers into `layout` (digests checked); a multi-platform
    index is resolved to `platform` (architecture, os). Returns the manifest's descriptor."""
    data, media_type = client.get_manifest(reference.repository, reference.digest or reference.tag or "latest")
    if reference.digest and f"sha256:{hashlib.sha256(data).hexdigest()}" != reference.digest:
        raise StageFailed("registry_error", f"{reference} arrived with another digest", "try again; if it persists, the registry's storage is damaged")
    if media_type in LISTS:
        chosen = _platform_manifest(client, reference.repository, json.loads(data), *platform)
        data, media_type = client.get_manifest(reference.repository, chosen.digest)
    descriptor = layout.add_bytes(data, media_type or MANIFEST)
    document = json.loads(data)
    for item in [document["config"], *document["layers"]]:
        blob = Descriptor.from_json(item)
        if not layout.has(blob.digest):
            client.get_blob(reference.repository, blob, layout.blob_path(blob.digest))
    return descriptor


def pull_to_layout(reference: str, root: Path, platform: tuple[str, str], tls: bool = False, username: str = "", password: str = "") -> Descriptor:
    """`reference` (host:port/repository:tag or @sha256:...) as a new OCI layout at `root`, tagged
    with its tag (or "latest")."""
    parsed = Reference.parse(reference)
    layout = Layout.create(root)
    manifest = pull(RegistryClient(parsed.registry, tls, username, password), parsed, layout, platform)
    layout.write_index(manifest, parsed.tag or "latest")
    return manifest

