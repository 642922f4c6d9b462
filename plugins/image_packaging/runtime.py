"""The runtime layer: the installed Python distributions the inference service imports, as they
sit in this environment's site-packages, under /opt/twinforge/site-packages.

It is by far the largest layer (torch alone is over a gigabyte) and it changes only when the
environment does, so it is built once per environment and kept in the data storage under a key
made of the Python version, the machine and every packed name==version: a later packaging copies
the stored tar back, byte for byte, so its digest is the same and a registry skips it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from host.storage.blobs import BlobStore
from plugins.image_packaging.oci import LAYER_TAR, Descriptor, Entry, Layer, Layout, Progress, write_layer
from plugins.sdk.errors import StageFailed

SITE_PACKAGES = "opt/twinforge/site-packages"
ROOT_DISTRIBUTION = "twinforge"
CACHE_PREFIX = "cache/image_packaging"


@dataclass(frozen=True)
class RuntimeLayer:
    layer: Layer
    packages: list[str]  # name==version, sorted
    reused: bool


def _distribution(name: str, wanted_by: str) -> metadata.Distribution:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise StageFailed(
            "runtime_package_missing",
            f"the Python distribution {name!r} ({wanted_by}) is not installed where the packaging runs",
            "install Twinforge with its dependencies (pip install -e .) in the packaging plugin's environment, "
            "or leave it out of runtime_packages",
        ) from None


def _wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras | {""})


def dependency_closure(root: str = ROOT_DISTRIBUTION) -> list[metadata.Distribution]:
    """Every installed distribution `root` needs, through its requirements' requirements (markers
    evaluated for this machine, extras followed), without `root` itself."""
    found: dict[str, metadata.Distribution] = {}
    extras: dict[str, set[str]] = {canonicalize_name(root): set()}
    queue = [(root, set[str]())]
    while queue:
        name, wanted_extras = queue.pop()
        key = canonicalize_name(name)
        dist = found.get(key) or _distribution(name, f"needed by {root}")
        known = extras.setdefault(key, set())
        if key in found and wanted_extras <= known:
            continue
        found[key] = dist
        known |= wanted_extras
        for text in dist.requires or []:
            requirement = Requirement(text)
            if _wanted(requirement, known):
                queue.append((requirement.name, set(requirement.extras)))
    found.pop(canonicalize_name(root))
    return sorted(found.values(), key=lambda dist: canonicalize_name(dist.metadata["Name"]))


def chosen(names: list[str] | None) -> list[metadata.Distribution]:
    """The given distributions only (tests pack one or two tiny ones), or the whole closure."""
    if names is None:
        return dependency_closure()
    picked = {canonicalize_name(name): _distribution(name, "named in runtime_packages") for name in names}
    return [picked[key] for key in sorted(picked)]


def pins(distributions: list[metadata.Distribution]) -> list[str]:
    return sorted(f"{canonicalize_name(dist.metadata['Name'])}=={dist.version}" for dist in distributions)


def cache_key(packages: list[str]) -> str:
    """Same interpreter, machine and pins: the same layer. A native wheel for another machine or
    Python is another layer."""
    fingerprint = "\n".join([platform.python_version(), platform.machine(), *packages])
    return f"{CACHE_PREFIX}/runtime-{hashlib.sha256(fingerprint.encode()).hexdigest()[:32]}.tar"


def entries(distributions: list[metadata.Distribution]) -> list[Entry]:
    """The files each distribution's RECORD lists inside site-packages, metadata included (so
    importlib.metadata works in the image), bytecode left out (it is rebuilt, and holds mtimes);
    scripts installed outside site-packages (../../bin) stay out."""
    placed = []
    for dist in distributions:
        for file in dist.files or []:
            relative = PurePosixPath(str(file))
            if ".." in relative.parts or "__pycache__" in relative.parts or relative.suffix == ".pyc":
                continue
            source = Path(dist.locate_file(file))
            if source.is_file():
                placed.append(Entry(f"{SITE_PACKAGES}/{relative}", source))
    return placed


def runtime_layer(
    blobs: BlobStore, layout: Layout, names: list[str] | None, progress: Progress, log: Callable[[str], None]
) -> RuntimeLayer:
    """The stored layer when this environment's was built before, else a new one, stored for next time."""
    distributions = chosen(names)
    packages = pins(distributions)
    key = cache_key(packages)
    scratch = layout.root.parent / "runtime-layer.tar"
    if blobs.exists(key):
        info = blobs.get_file(key, scratch)
        digest = f"sha256:{info.sha256}"
        layer = Layer(Descriptor(LAYER_TAR, digest, info.size), digest)
        layout.adopt(scratch, layer.descriptor)
        log(f"runtime layer of {len(packages)} distributions reused from {key}")
        return RuntimeLayer(layer, packages, reused=True)
    layer = write_layer(entries(distributions), scratch, compressed=False, progress=progress)
    blobs.put_file(key, scratch, layer.descriptor.digest.removeprefix("sha256:"))
    layout.adopt(scratch, layer.descriptor)
    log(f"runtime layer of {len(packages)} distributions built and stored as {key}")
    return RuntimeLayer(layer, packages, reused=False)
