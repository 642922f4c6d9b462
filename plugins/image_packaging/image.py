"""The image's config and manifest: how the service starts, what it exposes, and the labels that
say which avatar, round and measures it carries and which code built it.

`created` is the time of the checkout's last commit, not the time of the build (the
SOURCE_DATE_EPOCH convention of reproducible builds): the same checkout and the same bundle then
give the same config, hence the same manifest digest.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from plugins.image_packaging.layers import APP, BUNDLE
from plugins.image_packaging.oci import MANIFEST, Descriptor
from plugins.image_packaging.runtime import SITE_PACKAGES

ENTRYPOINT = ["python3", "-m", "plugins.inference.server"]
PORTS = ("50070/tcp", "8080/tcp")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Source:
    revision: str
    created: str
    url: str


def machine_platform() -> tuple[str, str]:
    """(architecture, os) in the OCI spelling: the image runs the native wheels of this machine."""
    machine = platform.machine().lower()
    return ARCHITECTURES.get(machine, machine), platform.system().lower()


def _git(checkout: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def source_of(checkout: Path) -> Source:
    """The commit, its time and its origin when the checkout is a git checkout; "unknown" and the
    epoch otherwise."""
    revision = _git(checkout, "rev-parse", "HEAD")
    seconds = _git(checkout, "log", "-1", "--format=%ct") if revision else None
    created = datetime.fromtimestamp(int(seconds) if seconds else 0, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = _git(checkout, "config", "--get", "remote.origin.url") if revision else None
    return Source(revision or UNKNOWN, created, url or UNKNOWN)


def twinforge_version() -> str:
    try:
        return metadata.version("twinforge")
    except metadata.PackageNotFoundError:
        return UNKNOWN


def labels(
    avatar_id: str, tag: str, source: Source, round_: int | None, submission_version: int | None,
    measures: dict[str, Any], versions: dict[str, str], accelerator: str,
) -> dict[str, str]:
    def text(value: int | None) -> str:
        return "" if value is None else str(value)

    return {
        "org.opencontainers.image.title": f"Twinforge avatar {avatar_id}",
        "org.opencontainers.image.created": source.created,
        "org.opencontainers.image.revision": source.revision,
        "org.opencontainers.image.version": tag,
        "org.opencontainers.image.source": source.url,
        "io.twinforge.avatar": avatar_id,
        "io.twinforge.submission_version": text(submission_version),
        "io.twinforge.round": text(round_),
        "io.twinforge.measures": json.dumps(measures, sort_keys=True, separators=(",", ":")),
        "io.twinforge.versions": json.dumps(versions, sort_keys=True, separators=(",", ":")),
        "io.twinforge.accelerator": accelerator,
    }


def _environment(base_env: list[str]) -> list[str]:
    """The base's variables (PATH, LANG, its Python's), ours over them."""
    merged = dict(item.partition("=")[::2] for item in base_env)
    merged.setdefault("PATH", DEFAULT_PATH)
    merged["PYTHONPATH"] = f"/{APP}:/{SITE_PACKAGES}"
    merged["TWINFORGE_BUNDLE"] = f"/{BUNDLE}"
    return [f"{name}={value}" for name, value in merged.items()]


def config(
    base: dict[str, Any] | None, diff_ids: list[str], own_layers: list[str], image_labels: dict[str, str], created: str,
) -> dict[str, Any]:
    """The image config. The base contributes its environment, user and history; `own_layers`
    names the layers added here, for the history."""
    base = base or {}
    base_config = base.get("config") or {}
    architecture, os_name = machine_platform()
    settings: dict[str, Any] = {
        "Entrypoint": ENTRYPOINT,
        "Env": _environment(base_config.get("Env") or []),
        "WorkingDir": f"/{APP}",
        "ExposedPorts": {port: {} for port in PORTS},
        "Labels": {**(base_config.get("Labels") or {}), **image_labels},
    }
    if base_config.get("User"):
        settings["User"] = base_config["User"]
    document: dict[str, Any] = {
        "created": created,
        "architecture": architecture,
        "os": os_name,
        "config": settings,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    base_history = base.get("history") or []
    base_layers = len(diff_ids) - len(own_layers)
    if sum(not item.get("empty_layer") for item in base_history) == base_layers:
        document["history"] = base_history + [
            {"created": created, "created_by": f"twinforge image_packaging: {name} layer"} for name in own_layers
        ]
    return document


def manifest(config_descriptor: Descriptor, layers: list[Descriptor], image_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config_descriptor.as_json(),
        "layers": [layer.as_json() for layer in layers],
        "annotations": {name: value for name, value in image_labels.items() if name.startswith("org.opencontainers.")},
    }
