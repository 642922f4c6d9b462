"""The production flow as data: which stage follows which.

A stage starts for a submission once every stage it depends on has succeeded for that same
submission; its inputs are the submitted video and the outputs of those stages. The training part
comes from the model spec (plugins/trainer/default_spec.yaml), so a new sub-model needs no change
here.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugins.trainer.spec import Spec, load_spec


@dataclass(frozen=True)
class Flow:
    # stage -> the stages whose outputs it needs
    needs: dict[str, tuple[str, ...]]

    def roots(self) -> list[str]:
        return [stage for stage, upstream in self.needs.items() if not upstream]

    def dependents(self, stage: str) -> list[str]:
        return [s for s, upstream in self.needs.items() if stage in upstream]

    def downstream(self, stage: str) -> list[str]:
        """Every stage that depends on `stage`, directly or through others, in flow order."""
        found: set[str] = set()
        frontier = [stage]
        while frontier:
            for dependent in self.dependents(frontier.pop()):
                if dependent not in found:
                    found.add(dependent)
                    frontier.append(dependent)
        return [s for s in self.needs if s in found]


# The intake check is the root: every submitted video is measured first. Once it passes, the four
# preprocessing stages run on the video independently, and `crop` makes the training set from all
# of their outputs (docs/preprocessing.md). `probe` is the plugin author's example and runs only
# when submitted explicitly.
PREPROCESSING = ("vad", "audio_features", "face_track", "segmentation")
PREPROCESSING_FLOW = Flow(
    needs={
        "video_analysis": (),
        **{stage: ("video_analysis",) for stage in PREPROCESSING},
        "crop": PREPROCESSING,
    }
)
MATERIALS = "material_extraction"
# The stages whose outputs every trainer reads: the training set and the materials.
TRAINING_INPUTS = ("crop", MATERIALS)


def with_model(flow: Flow, spec: Spec) -> Flow:
    """The flow followed by the model's training (docs/model.md): the materials once the training
    set is made, the cut-out once the materials are proposed, then each sub-model of the spec as a
    stage of its name once the training set, the materials and the sub-models it needs have
    succeeded, so its inputs hold all of their outputs; last, the evaluation of the whole graph on
    the held-out test clips and unseen voices, sync first: quality_eval measures sync_detection's
    renders and gives the round's verdict (docs/evaluation.md)."""
    trainers = {name: TRAINING_INPUTS + spec.submodels[name].needs for level in spec.by_level() for name in level}
    evaluation = TRAINING_INPUTS + tuple(spec.submodels)  # the whole trained graph renders the test clips
    return Flow(
        needs={
            **flow.needs,
            MATERIALS: ("crop",),
            "cutout": ("segmentation", "crop", MATERIALS),
            **trainers,
            "sync_detection": evaluation,
            "quality_eval": evaluation + ("sync_detection",),
        }
    )


# The default flow: preprocessing, then the materials and the default model's sub-models.
DEFAULT_FLOW = with_model(PREPROCESSING_FLOW, load_spec())
