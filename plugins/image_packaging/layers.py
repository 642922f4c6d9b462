"""What the small layers hold: the Twinforge code of the running checkout, and the bundle's
models and materials, each at the path the inference service reads it from."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from plugins.image_packaging.oci import Entry, folder_entries
from plugins.inference.bundle import MANIFEST
from plugins.sdk.errors import StageFailed

APP = "opt/twinforge/app"
BUNDLE = "opt/twinforge/bundle"
SOURCE_FOLDERS = ("host", "plugins", "scheduler", "bot")
GENERATED = Path("proto") / "twinforge"  # imported as `twinforge`, so it sits beside host/ in the image
LEFT_OUT = {"__pycache__", "tests", ".venv"}


def default_checkout() -> Path:
    """The checkout this code runs from: plugins/image_packaging/layers.py is two folders down."""
    return Path(__file__).resolve().parents[2]


def _source(relative: PurePosixPath) -> bool:
    return not (
        LEFT_OUT & set(relative.parts)
        or any(part.startswith(".") or part.endswith(".egg-info") for part in relative.parts)
        or relative.suffix == ".pyc"
    )


def code_entries(checkout: Path) -> list[Entry]:
    """host/, plugins/, scheduler/, bot/ (when there), the generated gRPC code and pyproject.toml."""
    if not (checkout / "pyproject.toml").is_file() or not (checkout / GENERATED).is_dir():
        raise StageFailed(
            "source_missing",
            f"{checkout} is not a Twinforge checkout (no pyproject.toml or {GENERATED}), so there is no code to package",
            "run the packaging plugin from a Twinforge checkout (python -m plugins.image_packaging.server in the repository), "
            "with the gRPC code generated (python proto/generate.py)",
        )
    placed = [Entry(f"{APP}/pyproject.toml", checkout / "pyproject.toml")]
    for folder in SOURCE_FOLDERS:
        if (checkout / folder).is_dir():
            placed += folder_entries(checkout / folder, f"{APP}/{folder}", _source)
    placed += folder_entries(checkout / GENERATED, f"{APP}/twinforge", _source)
    return placed


def model_entries(bundle: Path) -> list[Entry]:
    """models/ and bundle.json: a retrained round changes these and nothing else."""
    return [Entry(f"{BUNDLE}/{MANIFEST}", bundle / MANIFEST), *folder_entries(bundle / "models", f"{BUNDLE}/models")]


def material_entries(bundle: Path) -> list[Entry]:
    return folder_entries(bundle / "materials", f"{BUNDLE}/materials")
