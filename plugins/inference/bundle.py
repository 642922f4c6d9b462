"""The deployable bundle: everything one avatar's inference service reads, in one folder.

    bundle.json              what is inside, each file with its sha256, the avatar, the measures
    models/<name>.pt         the inference graph's sub-models (audio2lip, generator, refiner if trained)
    materials/video.mp4      the recording the driving clip is cut from
    materials/training_set.zip, materials/materials.json, materials/cutout.npz (when cut out)

Models and materials sit in separate folders because they change at different times (a retrained
generator, an edited driving clip): the image packaging turns each folder into its own layer, so a
new round re-sends only what changed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from host.storage.blobs import sha256_file
from plugins.sdk.errors import StageFailed

FORMAT = 1
MANIFEST = "bundle.json"
REQUIRED_MODELS = ("audio2lip", "generator")
OPTIONAL_MODELS = ("refiner",)
MATERIALS = {
    "video": "materials/video.mp4",
    "training_set": "materials/training_set.zip",
    "materials": "materials/materials.json",
    "cutout": "materials/cutout.npz",
}
OPTIONAL_MATERIALS = ("cutout",)


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: dict

    @property
    def avatar_id(self) -> str:
        return str(self.manifest["avatar_id"])

    @property
    def model_paths(self) -> dict[str, Path]:
        return {name: self.root / relative for name, relative in self.manifest["models"].items()}

    def material(self, name: str) -> Path | None:
        relative = self.manifest["materials"].get(name)
        return self.root / relative if relative else None

    @property
    def materials(self) -> dict:
        return json.loads(self.material("materials").read_text())


def _place(source: Path, target: Path) -> None:
    """A hard link when source and target share a file system (bundles of gigabytes cost nothing),
    a copy otherwise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def write_bundle(
    root: Path,
    avatar_id: str,
    models: dict[str, Path],
    materials: dict[str, Path],
    details: dict | None = None,
) -> Bundle:
    """Lays the files out under `root` and writes the manifest last, so a folder with a manifest is
    complete. `details`: what the image labels and the service report (submission version,
    round, measures, source revision)."""
    missing = [name for name in REQUIRED_MODELS if name not in models] + [
        name for name in MATERIALS if name not in materials and name not in OPTIONAL_MATERIALS
    ]
    if missing:
        raise StageFailed(
            "bundle_incomplete",
            f"the avatar {avatar_id} cannot be packaged without its {', '.join(missing)}",
            "train the model and extract the materials first (twinforge watch AVATAR shows what ran)",
        )
    root = Path(root)
    files: dict[str, str] = {}
    placed_models: dict[str, str] = {}
    for name in REQUIRED_MODELS + OPTIONAL_MODELS:
        if name in models:
            relative = f"models/{name}.pt"
            _place(Path(models[name]), root / relative)
            placed_models[name] = relative
            files[relative] = sha256_file(root / relative)
    placed_materials: dict[str, str] = {}
    for name, relative in MATERIALS.items():
        if name in materials:
            _place(Path(materials[name]), root / relative)
            placed_materials[name] = relative
            files[relative] = sha256_file(root / relative)
    manifest = {
        "format": FORMAT,
        "avatar_id": avatar_id,
        "models": placed_models,
        "materials": placed_materials,
        "files": files,
        **(details or {}),
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return Bundle(root, manifest)


def read_bundle(root: Path, verify: bool = True) -> Bundle:
    """The bundle at `root`, checked: the manifest's format, every file present and, with
    `verify`, every file's sha256 as written."""
    root = Path(root)
    advice = "package the avatar again (twinforge deploy AVATAR) and deploy the new image"
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except FileNotFoundError:
        raise StageFailed("bundle_missing", f"{root} holds no {MANIFEST}: it is not an avatar bundle", advice) from None
    except json.JSONDecodeError as exc:
        raise StageFailed("bundle_damaged", f"{root / MANIFEST} is not JSON: {exc}", advice) from None
    if manifest.get("format") != FORMAT:
        raise StageFailed(
            "bundle_format",
            f"the bundle is of format {manifest.get('format')!r}, this service reads format {FORMAT}",
            "deploy it with the Twinforge version that packaged it, or package it again",
        )
    for relative, digest in manifest.get("files", {}).items():
        path = root / relative
        if not path.is_file():
            raise StageFailed("bundle_damaged", f"the bundle lacks {relative}", advice)
        if verify and sha256_file(path) != digest:
            raise StageFailed("bundle_damaged", f"{relative} in the bundle differs from what was packaged (sha256)", advice)
    return Bundle(root, manifest)
