"""The stage's parameters: plain typed defaults, presets as dicts of overrides, and explicit
parameters over both, so that the materials file can record exactly what it was chosen with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from plugins.sdk.errors import StageFailed
from host.presets import PRESETS_ORDER


@dataclass(frozen=True)
class Config:
    driving_count: int = 5  # driving clips proposed, at most
    driving_min_s: float = 3.0  # the shortest driving clip: shorter loops are noticed as loops
    driving_max_s: float = 8.0
    cover_count: int = 3
    cover_spacing_s: float = 1.0  # covers this far apart at least, so that they differ
    test_clip_s: float = 10.0  # each held-out test clip about this long: shorter ones cannot tell sync from chance
    test_min_s: float = 10.0  # held out in all where the video allows: less cannot tell sync from chance
    test_share: float = 0.1  # of a long video held out (more test speech, more trust in the acceptance)
    test_max_share: float = 0.2  # never more of the video than this, so training keeps 80 % at least
    search_step: int = 5  # frames between the starts of the candidate windows


PRESETS: dict[str, dict[str, Any]] = {
    # the smoke test's short video: one driving clip and cover, a 4 s test clip (too short to tell
    # sync from chance; the tiny preset's evaluation only checks that the render is a face)
    "tiny": {"driving_count": 1, "cover_count": 1, "search_step": 10, "test_clip_s": 4.0, "test_min_s": 4.0},
    "draft": {"driving_count": 3, "search_step": 10},
    "standard": {},
    "high": {"search_step": 1},
}

_BOUNDS = {
    "driving_count": (1, 5), "driving_min_s": (0.5, 30.0), "driving_max_s": (0.5, 60.0), "cover_count": (1, 10),
    "cover_spacing_s": (0.0, 60.0), "test_clip_s": (1.0, 30.0), "test_min_s": (0.0, 120.0), "test_share": (0.0, 0.5),
    "test_max_share": (0.01, 0.5), "search_step": (1, 50),
}


def json_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {"preset": {"enum": list(PRESETS_ORDER)}}
    for field in fields(Config):
        low, high = _BOUNDS[field.name]
        properties[field.name] = {"type": "integer" if field.type == "int" else "number", "minimum": low, "maximum": high}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def config_from(parameters: dict[str, Any], default_preset: str) -> tuple[str, Config]:
    """The preset's values under the explicit parameters, checked for consistency."""
    preset = parameters.get("preset", default_preset)
    explicit = {name: value for name, value in parameters.items() if name != "preset"}
    config = replace(Config(), **{**PRESETS[preset], **explicit})
    if config.driving_min_s > config.driving_max_s:
        raise StageFailed(
            "bad_parameters",
            f"driving_min_s ({config.driving_min_s}) is longer than driving_max_s ({config.driving_max_s})",
            "give a driving_min_s no longer than driving_max_s",
        )
    if config.test_share > config.test_max_share:
        raise StageFailed(
            "bad_parameters",
            f"test_share ({config.test_share}) is above test_max_share ({config.test_max_share})",
            "give a test_share no larger than test_max_share",
        )
    return preset, config


def as_dict(config: Config) -> dict[str, Any]:
    return asdict(config)
