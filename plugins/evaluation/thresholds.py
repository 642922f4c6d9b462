"""What a render must reach, per preset, in one place.

Most limits are relative to the two baselines of the same clip, because a number alone says little
about a video (a 256 px recording is never as sharp as a 512 px one, a calm speaker never opens
their mouth as wide as a lively one): the floor is the driving clip left unchanged under the same
audio (what a model that learned nothing renders), the ceiling is the real recording. A limit is
`scale * baseline + add` (baseline: the floor's or the ceiling's value, or 0 for a plain number);
`higher` measures must reach it, `lower` ones must stay at or under it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    measure: str
    better: str  # "higher" or "lower"
    baseline: str | None  # "floor", "ceiling" or None (a plain number)
    limits: dict[str, tuple[float, float]]  # preset -> (scale, add)
    words: str  # what passing means, for the person

    def limit(self, preset: str, baselines: dict[str, float | None]) -> float | None:
        """The value the render must reach, or None when the baseline it needs was not measured."""
        scale, add = self.limits[preset]
        if self.baseline is None:
            return add
        base = baselines.get(self.baseline)
        return None if base is None else scale * base + add

    def passes(self, value: float | None, limit: float | None) -> bool | None:
        if value is None or limit is None:
            return None
        return value >= limit if self.better == "higher" else value <= limit


# `tiny` is a smoke test's preset (plugins/lipsync/presets.yaml: a handful of training steps): its model
# cannot lip-sync, and limits that asked it to would make the smoke test fail on purpose. Its limits
# are smoke-level: they pass any render that is still a face in the right place, about as sharp and
# as steady as the recording (at worst a tenth, ten times), and fail one that is blank, noise,
# shifted or frozen away from the real mouth. They say that the platform works, never that an
# avatar is good; the tiny preset exists for that and nothing else.
RULES: tuple[Rule, ...] = (
    Rule("sync_confidence", "higher", "floor", {"tiny": (1.0, -1.0), "draft": (1.0, 0.05), "standard": (1.0, 0.10), "high": (1.0, 0.15)},
         "the mouth follows the sound clearly better than the unchanged driving clip does"),
    Rule("sync_offset_frames", "lower", None, {"tiny": (0.0, 15.0), "draft": (0.0, 2.0), "standard": (0.0, 1.0), "high": (0.0, 1.0)},
         "the mouth moves with the sound, not early or late (offset in frames, either way)"),
    Rule("expert_confidence", "higher", "floor", {"tiny": (1.0, -1.0), "draft": (1.0, 0.1), "standard": (1.0, 0.5), "high": (1.0, 1.0)},
         "the trained sync expert finds the render in sync more surely than the unchanged driving clip"),
    Rule("lmd", "lower", "floor", {"tiny": (3.0, 0.0), "draft": (1.0, 0.0), "standard": (0.9, 0.0), "high": (0.8, 0.0)},
         "the lips take the real recording's shapes more closely than the unchanged driving clip's lips do"),
    Rule("mouth_ssim", "higher", "floor", {"tiny": (1.0, -0.5), "draft": (1.0, -0.10), "standard": (1.0, -0.05), "high": (1.0, -0.02)},
         "the mouth region looks about as much like the real one as the driving clip's real mouth does"),
    Rule("mouth_psnr", "higher", "floor", {"tiny": (1.0, -15.0), "draft": (1.0, -3.0), "standard": (1.0, -2.0), "high": (1.0, -1.0)},
         "the mouth region's colours and light stay about as close to the real ones as the driving clip's"),
    Rule("stillness_in_silence", "lower", "ceiling", {"tiny": (10.0, 2.0), "draft": (2.0, 0.5), "standard": (1.5, 0.3), "high": (1.2, 0.2)},
         "the mouth rests when nobody speaks, not much more restless than the real person's"),
    Rule("jitter", "lower", "ceiling", {"tiny": (10.0, 2.0), "draft": (2.0, 0.3), "standard": (1.5, 0.2), "high": (1.2, 0.1)},
         "the lips move smoothly from frame to frame, not much shakier than in the real recording"),
    Rule("sharpness_ratio", "higher", None, {"tiny": (0.0, 0.1), "draft": (0.0, 0.5), "standard": (0.0, 0.7), "high": (0.0, 0.85)},
         "the mouth is nearly as sharp as in the real recording (teeth and lip edges not blurred)"),
)
