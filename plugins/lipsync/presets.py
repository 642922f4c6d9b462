"""The sub-models' preset values (presets.yaml beside this file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

PRESETS_FILE = Path(__file__).with_name("presets.yaml")
SUBMODELS = ("syncnet", "audio2lip", "generator", "refiner")


@lru_cache(maxsize=1)
def _all() -> dict:
    return yaml.safe_load(PRESETS_FILE.read_text())


def preset(name: str, submodel: str) -> dict:
    """A copy of one sub-model's values in one preset (draft, standard or high), with its name."""
    return {**_all()[name][submodel], "preset": name}
