"""What a render must reach, per preset, in one place (docs/evaluation.md explains each figure).

A limit is a bound on one measure of one clip, set from that clip's own baselines, because a number
alone says little about a video (a 256 px recording is never as sharp as a 512 px one, a calm
speaker never opens their mouth as wide as a lively one, a 10 s clip correlates by chance more than
a 20 s one): the floor is the driving clip left unchanged under the same sound (what a model that
learned nothing renders), the ceiling the person's real recording, and chance the null distribution
of the sync measure for the clip's length (what a mouth unrelated to its sound scores, measured on
real recordings by bench/sync_null.py). Most measures are bounded on both sides: a mouth that does
nothing (frozen, one average mouth, no chatter, no motion) must fail as surely as one that does too
much (noise, trembling).

Rules come in three groups, judged in this order: sync (does the mouth follow the sound: the seed's
acceptance, so nothing else counts until it passes), motion (does it move as far and as smoothly as
the person's), picture (does it look like the person's mouth, as sharp). Sync is judged on clips of
MIN_SYNC_SECONDS or more only: on shorter ones chance correlations are as large as real ones.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from host.presets import PRESETS_ORDER

MIN_SYNC_SECONDS = 10.0

# The proved sync confidence of real mouths under sounds that did not make them (bench/sync_null.py,
# measured 2026-12-07 on the nine 25 fps samples: each stretch against 40 false pairings drawn from
# other stretches of its own sound, the other samples' sounds, the drive recordings and the
# evaluation's espeak-ng voices; offsets searched +-1 s). Clip seconds -> (median, 95th, 99th
# percentile). A clip between two lengths takes the shorter length's row: chance is larger there.
CHANCE: dict[float, tuple[float, float, float]] = {
    10.0: (0.132, 0.222, 0.266),
    12.0: (0.119, 0.197, 0.247),
    15.0: (0.112, 0.183, 0.212),
    20.0: (0.112, 0.161, 0.172),
}
# Which percentile of chance every preset's sync must clear (tiny's model cannot lip-sync). The
# presets differ in how near zero the offset must be and in the motion and picture rules, not here:
# a higher percentile would fail real recordings themselves (at 15 s, a fifth of the samples' true
# pairings score under the 99th).
CHANCE_PERCENTILE = {"tiny": None, "draft": 95, "standard": 95, "high": 95}


def chance(seconds: float, percentile: int) -> tuple[float, float] | None:
    """(median, percentile) of chance for a clip of `seconds`; None under MIN_SYNC_SECONDS."""
    lengths = sorted(CHANCE)
    at = bisect_right(lengths, seconds + 1e-9) - 1
    if at < 0:
        return None
    median, q95, q99 = CHANCE[lengths[at]]
    return median, {95: q95, 99: q99}[percentile]


@dataclass(frozen=True)
class Clip:
    """What a limit may lean on for one clip: its length and its baselines' measures."""

    seconds: float
    floor: dict = field(default_factory=dict)
    ceiling: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Times:
    """`scale` times a baseline's value of the same measure, plus `add`; a plain number without one."""

    scale: float = 1.0
    add: float = 0.0
    baseline: str | None = None  # "floor" or "ceiling"

    def value(self, measure: str, clip: Clip, preset: str) -> float | None:
        if self.baseline is None:
            return self.add
        base = getattr(clip, self.baseline).get(measure)
        return None if base is None else self.scale * float(base) + self.add



@dataclass(frozen=True)
class Chance:
    """Chance's percentile for the clip's length (the preset's percentile), over `baseline`'s value
    when one is named: the floor plus chance's spread above its median, so that a render must beat
    its own floor by more than chance would."""

    baseline: str | None = None

    def value(self, measure: str, clip: Clip, preset: str) -> float | None:
        percentile = CHANCE_PERCENTILE[preset]
        found = chance(clip.seconds, percentile) if percentile else None
        if found is None:
            return None
        median, top = found
        if self.baseline is None:
            return top
        base = getattr(clip, self.baseline).get(measure)
        return None if base is None else float(base) + top - median



Bound = Times | Chance


@dataclass(frozen=True)
class Rule:
    name: str
    measure: str
    group: str  # sync, motion or picture
    low: dict[str, Bound | None]  # preset -> the least the measure may be (None: no lower bound)
    high: dict[str, Bound | None]  # preset -> the most
    words: str  # what passing means, for the person
    kinds: tuple[str, ...] = ("own", "voice")  # the clips it judges: the person's own held-out speech, unseen voices
    shortest: float = 0.0  # seconds: shorter clips are not judged by it

    def applies(self, preset: str, kind: str, seconds: float) -> bool:
        if kind not in self.kinds or (self.low.get(preset) is None and self.high.get(preset) is None):
            return False
        return seconds >= self.shortest


def per_preset(bounds: dict[str, Bound | None]) -> dict[str, Bound | None]:
    """The bounds for every preset, None where a preset has none."""
    return {preset: bounds.get(preset) for preset in PRESETS_ORDER}


def none() -> dict[str, Bound | None]:
    return dict.fromkeys(PRESETS_ORDER)


# `tiny` is a smoke test's preset (plugins/lipsync/presets.yaml: a handful of training steps): its model
# cannot lip-sync, and limits that asked it to would make the smoke test fail on purpose. Its limits
# pass any render that is still a face in the right place, moving a little and about as sharp as the
# recording, and fail one that is blank, noise or frozen. They say that the platform works, never
# that an avatar is good.
RULES: tuple[Rule, ...] = (
    Rule("face_share", "face_share", "sync",
         per_preset({"tiny": Times(add=0.5), "draft": Times(add=0.95), "standard": Times(add=0.98), "high": Times(add=0.98)}), none(),
         "the face is found in the render's frames, so its mouth can be measured at all"),
    Rule("sync_above_chance", "sync_confidence", "sync", per_preset({"draft": Chance(), "standard": Chance(), "high": Chance()}), none(),
         "the mouth follows this sound more closely than a mouth unrelated to it would by chance", shortest=MIN_SYNC_SECONDS),
    Rule("sync_above_floor", "sync_confidence", "sync",
         per_preset({"draft": Chance("floor"), "standard": Chance("floor"), "high": Chance("floor")}), none(),
         "the mouth follows the sound clearly better than the unchanged driving clip does", shortest=MIN_SYNC_SECONDS),
    Rule("sync_offset", "sync_offset_frames", "sync", none(),
         per_preset({"draft": Times(add=2.0), "standard": Times(add=1.0), "high": Times(add=1.0)}),
         "the mouth moves with the sound, not early or late (offset in frames, either way)", shortest=MIN_SYNC_SECONDS),
    Rule("lip_motion", "lip_motion", "motion",
         per_preset({"tiny": Times(0.1, baseline="ceiling"), "draft": Times(0.6, baseline="ceiling"),
                     "standard": Times(0.7, baseline="ceiling"), "high": Times(0.8, baseline="ceiling")}),
         per_preset({"tiny": Times(10.0, baseline="ceiling"), "draft": Times(1.67, baseline="ceiling"),
                     "standard": Times(1.43, baseline="ceiling"), "high": Times(1.25, baseline="ceiling")}),
         "the mouth opens and closes about as far as the person's own mouth does when speaking"),
    Rule("jitter", "jitter", "motion",
         per_preset({"tiny": Times(0.05, baseline="ceiling"), "draft": Times(0.3, baseline="ceiling"),
               "standard": Times(0.4, baseline="ceiling"), "high": Times(0.5, baseline="ceiling")}),
         per_preset({"tiny": Times(10.0, 2.0, "ceiling"), "draft": Times(2.0, 0.3, "ceiling"),
               "standard": Times(1.5, 0.2, "ceiling"), "high": Times(1.2, 0.1, "ceiling")}),
         "the lips move smoothly from frame to frame, neither shakier nor stiffer than in the real recording"),
    Rule("stillness_in_silence", "stillness_in_silence", "motion",
         per_preset({"tiny": Times(0.02, baseline="ceiling"), "draft": Times(0.05, baseline="ceiling"),
               "standard": Times(0.05, baseline="ceiling"), "high": Times(0.05, baseline="ceiling")}),
         per_preset({"tiny": Times(10.0, 2.0, "ceiling"), "draft": Times(2.0, 0.5, "ceiling"),
               "standard": Times(1.5, 0.3, "ceiling"), "high": Times(1.2, 0.2, "ceiling")}),
         "the mouth rests when nobody speaks, not much more restless than the real person's, yet alive"),
    Rule("lmd", "lmd", "picture", none(),
         per_preset({"tiny": Times(3.0, baseline="floor"), "draft": Times(1.0, baseline="floor"),
               "standard": Times(0.9, baseline="floor"), "high": Times(0.8, baseline="floor")}),
         "the lips take the real recording's shapes more closely than the unchanged driving clip's lips do", ("own",)),
    Rule("mouth_ssim", "mouth_ssim", "picture",
         per_preset({"tiny": Times(1.0, -0.5, "floor"), "draft": Times(1.0, -0.10, "floor"),
               "standard": Times(1.0, -0.05, "floor"), "high": Times(1.0, -0.02, "floor")}), none(),
         "the mouth region looks about as much like the real one as the driving clip's real mouth does", ("own",)),
    Rule("mouth_psnr", "mouth_psnr", "picture",
         per_preset({"tiny": Times(1.0, -15.0, "floor"), "draft": Times(1.0, -3.0, "floor"),
               "standard": Times(1.0, -2.0, "floor"), "high": Times(1.0, -1.0, "floor")}), none(),
         "the mouth region's colours and light stay about as close to the real ones as the driving clip's", ("own",)),
    Rule("sharpness", "sharpness_ratio", "picture",
         per_preset({"tiny": Times(add=0.1), "draft": Times(add=0.6), "standard": Times(add=0.75), "high": Times(add=0.85)}),
         per_preset({"tiny": Times(add=3.0), "draft": Times(add=2.0), "standard": Times(add=1.6), "high": Times(add=1.4)}),
         "the mouth is as sharp as in the real recording at its own resolution: teeth and lip edges not blurred, no noise",
         ("own",)),
)
GROUPS = ("sync", "motion", "picture")
