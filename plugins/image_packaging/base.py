"""The base image the avatar's layers go on: none, an OCI layout on disk, or an image on a registry.

Nothing is fetched from public registries at run time, so a base is whatever the operator put
in reach: `oci:/path/to/layout[:tag]` (skopeo copy writes one) or `host:port/repository:tag` on
a registry of their own. Its layers are copied into the image's layout as they are (same digests).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins.image_packaging.oci import INDEX, LAYER_GZIP, LAYER_TAR, Descriptor, Layout
from plugins.image_packaging.registry import DOCKER_LIST, pull_to_layout
from plugins.sdk.errors import StageFailed

OCI_PREFIX = "oci:"
DOCKER_LAYERS = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": LAYER_GZIP,
    "application/vnd.docker.image.rootfs.diff.tar": LAYER_TAR,
}
OCI_LAYERS = (LAYER_GZIP, LAYER_TAR, "application/vnd.oci.image.layer.v1.tar+zstd")
ADVICE = (
    "set TWINFORGE_IMAGE_BASE_CPU / TWINFORGE_IMAGE_BASE_CUDA (or the base parameter) to an OCI layout on this machine "
    "(skopeo copy docker://HOST:PORT/REPOSITORY:TAG oci:/PATH:TAG writes one) or to host:port/repository:tag on a registry "
    "in reach, or to an empty value to build on no base"
)


@dataclass(frozen=True)
class BaseImage:
    reference: str
    digest: str  # of its manifest
    config: dict[str, Any]
    layers: list[Descriptor]  # in the OCI media types, their blobs already in the image's layout
    diff_ids: list[str]

    def describe(self) -> dict[str, Any]:
        return {"reference": self.reference, "digest": self.digest, "layers": len(self.layers)}


def _split_oci(reference: str) -> tuple[Path, str | None]:
    """oci:/a/b:tag -> (/a/b, tag); a path that exists as it is has no tag."""
    text = reference[len(OCI_PREFIX):]
    path, _, tag = text.rpartition(":")
    if Path(text).is_dir() or not path or "/" in tag:
        return Path(text), None
    return Path(path), tag


def _source(reference: str, scratch: Path, platform: tuple[str, str], tls: bool, username: str, password: str) -> tuple[Layout, str | None]:
    """The layout holding the base, and its tag there: the named one, or one pulled into `scratch`."""
    if reference.startswith(OCI_PREFIX):
        folder, tag = _split_oci(reference)
        if not Layout(folder).is_layout():
            raise StageFailed("base_missing", f"the base image {reference} is not there: {folder} holds no OCI image layout", ADVICE)
        return Layout(folder), tag
    try:
        pull_to_layout(reference, scratch, platform, tls, username, password)
    except StageFailed as failed:
        raise StageFailed("base_missing", f"the base image {reference} cannot be had: {failed.message}", ADVICE) from failed
    return Layout(scratch), None


def _manifest(reference: str, source: Layout, tag: str | None, platform: tuple[str, str]) -> tuple[Descriptor, dict[str, Any]]:
    tags = source.tags()
    if tag is None and len(tags) == 1:
        tag = next(iter(tags))
    if tag not in tags:
        named = ", ".join(sorted(name for name in tags if name)) or "none"
        raise StageFailed("base_missing", f"the OCI layout {source.root} has no image tagged {tag!r} (its tags: {named})", ADVICE)
    descriptor = tags[tag]
    if descriptor.media_type in (INDEX, DOCKER_LIST):
        descriptor = _platform_entry(reference, source.read_json(descriptor), platform)
    return descriptor, source.read_json(descriptor)


def _platform_entry(reference: str, index: dict[str, Any], platform: tuple[str, str]) -> Descriptor:
    architecture, os_name = platform
    for item in index.get("manifests", []):
        if item.get("platform", {}).get("architecture") == architecture and item.get("platform", {}).get("os") == os_name:
            return Descriptor.from_json(item)
    raise StageFailed("base_platform", f"the base image {reference} has no image for {os_name}/{architecture}", ADVICE)


def _oci_layer(reference: str, descriptor: Descriptor) -> Descriptor:
    """Docker's layer media types name the same bytes as OCI's; the manifest here is OCI."""
    media_type = DOCKER_LAYERS.get(descriptor.media_type, descriptor.media_type)
    if media_type not in OCI_LAYERS:
        raise StageFailed("base_unsupported", f"the base image {reference} has a layer of type {descriptor.media_type}", ADVICE)
    return Descriptor(media_type, descriptor.digest, descriptor.size)


def _check_python(reference: str, config: dict[str, Any]) -> None:
    """The runtime layer holds this interpreter's native wheels: a base announcing another Python
    (the python images set PYTHON_VERSION) could not import them."""
    env = dict(item.partition("=")[::2] for item in (config.get("config") or {}).get("Env") or [])
    announced = env.get("PYTHON_VERSION", "")
    if announced and announced.split(".")[:2] != list(platform.python_version_tuple()[:2]):
        raise StageFailed(
            "base_python",
            f"the base image {reference} brings Python {announced}, the packages packed here are for Python {platform.python_version()}",
            f"use a base with Python {'.'.join(platform.python_version_tuple()[:2])}, or run the packaging where that base's Python is installed",
        )


def resolve_base(
    reference: str, layout: Layout, scratch: Path, platform: tuple[str, str], tls: bool = False, username: str = "", password: str = ""
) -> BaseImage | None:
    """The base named by `reference` (None for no base), its layers linked into `layout`.
    `scratch`: where a base on a registry is pulled to; `tls`, `username`, `password`: how."""
    if not reference:
        return None
    source, tag = _source(reference, scratch, platform, tls, username, password)
    manifest, document = _manifest(reference, source, tag, platform)
    config_descriptor = Descriptor.from_json(document["config"])
    for item in [document["config"], *document["layers"]]:
        if not source.has(item["digest"]):
            raise StageFailed("base_damaged", f"the base image {reference} lacks its blob {item['digest']}", ADVICE)
    config = source.read_json(config_descriptor)
    architecture, os_name = platform
    if (config.get("architecture"), config.get("os")) != (architecture, os_name):
        raise StageFailed(
            "base_platform",
            f"the base image {reference} is for {config.get('os')}/{config.get('architecture')}, this machine is {os_name}/{architecture}",
            ADVICE,
        )
    _check_python(reference, config)
    layers = [_oci_layer(reference, Descriptor.from_json(item)) for item in document["layers"]]
    diff_ids = list(config.get("rootfs", {}).get("diff_ids", []))
    if len(diff_ids) != len(layers):
        raise StageFailed("base_damaged", f"the base image {reference} lists {len(diff_ids)} diff_ids for {len(layers)} layers", ADVICE)
    for layer in layers:
        layout.adopt(source.blob_path(layer.digest), layer)
    return BaseImage(reference, manifest.digest, config, layers, diff_ids)
