"""The production flow as data: which stage follows which.

A stage starts for a submission once every stage it depends on has succeeded for that same
submission; its inputs are the submitted video and the outputs of those stages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flow:
    # stage -> the stages whose outputs it needs
    needs: dict[str, tuple[str, ...]]

    def roots(self) -> list[str]:
        return [stage for stage, upstream in self.needs.items() if not upstream]

    def dependents(self, stage: str) -> list[str]:
        return [s for s, upstream in self.needs.items() if stage in upstream]


# The intake check is the root: every submitted video is measured first. Once it passes, the four
# preprocessing stages run on the video independently, and `crop` makes the training set from all
# of their outputs (docs/preprocessing.md). `probe` is the plugin author's example and runs only
# when submitted explicitly.
PREPROCESSING = ("vad", "audio_features", "face_track", "segmentation")
DEFAULT_FLOW = Flow(
    needs={
        "video_analysis": (),
        **{stage: ("video_analysis",) for stage in PREPROCESSING},
        "crop": PREPROCESSING,
    }
)
