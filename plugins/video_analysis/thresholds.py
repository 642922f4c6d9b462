"""Every threshold of the intake check, per preset, in one place.

A measure passes inside its limits, warns (the video is still accepted) between a warning and a
failing limit, and fails beyond a failing limit. The advice a person reads quotes these numbers, so
changing a limit here changes what the person is told.

Presets:
- `tiny`: a smoke test of the whole platform, not an avatar anyone should use: the draft limits, but
  10 s of video are enough (the trainers run a handful of iterations and the evaluation's limits are
  smoke-level, plugins/evaluation/thresholds.py).
- `draft`: a first avatar from whatever the person has at hand, to see the platform work: one
  20-second take is enough (it also fits under Telegram's 20 MB), 15 s at the very least, with a
  warning under 30 s. So short a recording keeps only a few seconds of the person's own speech out
  of training, too few to judge lip sync on; the evaluation judges sync on the unseen voices it
  makes itself (12 s or more each) and uses the short held-out stretch for how the mouth looks and
  moves (docs/evaluation.md). The 5-10 s samples fail it for being too short.
- `standard`: the default of the production flow: about one minute or more of one person speaking
  to the camera, face at least 160 px wide, 720p or so. A "one minute" recording that ends a few
  seconds early still passes, with a warning that 2 minutes or more trains better.
- `high`: for the best avatar the platform can make: 2-5 minutes, a large sharp face, steady light.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from host.presets import PRESETS_ORDER


@dataclass(frozen=True)
class Limit:
    """Bounds of one measure; None means no bound on that side."""

    fail_below: float | None = None
    warn_below: float | None = None
    warn_above: float | None = None
    fail_above: float | None = None

    def status(self, value: float) -> str:
        if self.fail_below is not None and value < self.fail_below:
            return "fail"
        if self.fail_above is not None and value > self.fail_above:
            return "fail"
        if self.warn_below is not None and value < self.warn_below:
            return "warning"
        if self.warn_above is not None and value > self.warn_above:
            return "warning"
        return "pass"

    def low_target(self) -> float | None:
        """The smallest value that passes without a warning."""
        return self.warn_below if self.warn_below is not None else self.fail_below

    def high_target(self) -> float | None:
        """The largest value that passes without a warning."""
        return self.warn_above if self.warn_above is not None else self.fail_above

    def is_low(self, value: float) -> bool:
        low = self.low_target()
        return low is not None and value < low


# Measure name -> limit, per preset. Units are those of the report (see measures.MEASURES).
_DRAFT = {
    "duration": Limit(fail_below=15, warn_below=30, fail_above=900),
    "frame_rate": Limit(fail_below=15, warn_below=20),
    "frame_rate_variation": Limit(warn_above=5, fail_above=50),
    "dropped_frames": Limit(warn_above=2, fail_above=10),
    "duplicated_frames": Limit(warn_above=5, fail_above=20),
    "resolution": Limit(fail_below=240, warn_below=480),
    "rotation": Limit(warn_above=0),
    "aspect_ratio": Limit(warn_below=0.9, fail_below=0.4, fail_above=2.5),
    "completeness": Limit(fail_below=90, warn_below=99),
    "audio_sample_rate": Limit(fail_below=16000),
    "loudness": Limit(fail_below=-55, warn_below=-40, warn_above=-8),
    "clipping": Limit(warn_above=0.5, fail_above=5),
    "noise_floor": Limit(warn_above=-45, fail_above=-30),
    "speech_share": Limit(fail_below=30, warn_below=50),
    "face_visible": Limit(fail_below=80, warn_below=95),
    "single_face": Limit(fail_below=80, warn_below=95),
    "face_size": Limit(fail_below=96, warn_below=160),
    "face_share": Limit(fail_below=8, warn_below=15, warn_above=75),
    "face_cut_off": Limit(warn_above=5, fail_above=25),
    "face_offset": Limit(warn_above=25, fail_above=40),
    "head_motion": Limit(warn_above=0.5, fail_above=1.5),
    "sharpness": Limit(fail_below=30, warn_below=80),
    "face_brightness": Limit(fail_below=50, warn_below=80, warn_above=200, fail_above=235),
    "backlight": Limit(warn_above=40, fail_above=80, warn_below=-80),
    "frame_brightness": Limit(fail_below=35, warn_below=60, warn_above=210, fail_above=240),
    "av_duration_gap": Limit(warn_above=0.5, fail_above=2.0),
}

_STANDARD = _DRAFT | {
    "duration": Limit(fail_below=55, warn_below=120, fail_above=900),
    "frame_rate": Limit(fail_below=20, warn_below=23.9),
    "frame_rate_variation": Limit(warn_above=5, fail_above=30),
    "dropped_frames": Limit(warn_above=1, fail_above=5),
    "duplicated_frames": Limit(warn_above=2, fail_above=10),
    "resolution": Limit(fail_below=360, warn_below=720),
    "loudness": Limit(fail_below=-50, warn_below=-35, warn_above=-8),
    "clipping": Limit(warn_above=0.1, fail_above=2),
    "noise_floor": Limit(warn_above=-50, fail_above=-35),
    "speech_share": Limit(fail_below=40, warn_below=60),
    "face_visible": Limit(fail_below=90, warn_below=98),
    "single_face": Limit(fail_below=90, warn_below=98),
    "face_size": Limit(fail_below=160, warn_below=256),
    "face_share": Limit(fail_below=10, warn_below=20, warn_above=70),
    "face_cut_off": Limit(warn_above=2, fail_above=10),
    "head_motion": Limit(warn_above=0.4, fail_above=1.0),
    "sharpness": Limit(fail_below=50, warn_below=120),
    "face_brightness": Limit(fail_below=60, warn_below=90, warn_above=200, fail_above=230),
    "backlight": Limit(warn_above=30, fail_above=60, warn_below=-80),
    "av_duration_gap": Limit(warn_above=0.3, fail_above=1.0),
}

_TINY = _DRAFT | {"duration": Limit(fail_below=10, warn_below=30, fail_above=900)}

_HIGH = _STANDARD | {
    "duration": Limit(fail_below=110, warn_below=180, fail_above=900),
    "frame_rate": Limit(fail_below=23.9, warn_below=24.9),
    "frame_rate_variation": Limit(warn_above=2, fail_above=10),
    "dropped_frames": Limit(warn_above=0.5, fail_above=2),
    "duplicated_frames": Limit(warn_above=1, fail_above=5),
    "resolution": Limit(fail_below=720, warn_below=1080),
    "audio_sample_rate": Limit(fail_below=16000, warn_below=44100),
    "noise_floor": Limit(warn_above=-55, fail_above=-40),
    "speech_share": Limit(fail_below=50, warn_below=70),
    "face_visible": Limit(fail_below=95, warn_below=99),
    "single_face": Limit(fail_below=95, warn_below=99),
    "face_size": Limit(fail_below=256, warn_below=320),
    "face_cut_off": Limit(warn_above=1, fail_above=5),
    "head_motion": Limit(warn_above=0.3, fail_above=0.8),
    "sharpness": Limit(fail_below=100, warn_below=200),
    "backlight": Limit(warn_above=25, fail_above=50, warn_below=-70),
}

PRESETS = MappingProxyType({"tiny": _TINY, "draft": _DRAFT, "standard": _STANDARD, "high": _HIGH})


def limits(preset: str) -> dict[str, Limit]:
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS_ORDER)}") from None


# How densely the check looks at the picture. Face detection runs on every k-th decoded frame, so that
# about FACE_SAMPLES_PER_S frames a second are examined, but never fewer than MIN_FACE_SAMPLES frames in all
# when the video has them. Frames are examined at ANALYSIS_SIDE px on their longer side.
FACE_SAMPLES_PER_S = 1.0
MIN_FACE_SAMPLES = 40
ANALYSIS_SIDE = 256
SHARPNESS_SIDE = 64  # face crops are measured at this width (never enlarged): small enough that codec noise
# averages out, large enough that eyes, lips and hair keep their edges
FACE_MIN_CONFIDENCE = 0.5
SPEECH_THRESHOLD = 0.5  # voice activity probability that starts speech; it ends below 0.35
# The check reads at most this much beyond the longest duration any preset accepts.
MAX_ANALYSED_S = 900 + 5
