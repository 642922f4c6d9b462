"""`python -m plugins.trainer SUBMODEL`: the trainer plugin process of one sub-model of the model spec,
serving the stage of its name (`twinforge up` starts one per sub-model).

One entry point for every sub-model, so that a sub-model added to the spec needs no file here.
"""

from __future__ import annotations

import sys

from plugins.sdk.server import main
from plugins.trainer.plugin import Trainer
from plugins.trainer.spec import DEFAULT_SPEC, Spec, SpecError, load_spec


def chosen_submodel(args: list[str], spec: Spec) -> str:
    """The sub-model named on the command line; exits with the known ones when none or an unknown one is
    named, before the plugin starts serving a stage the flow never asks for."""
    known = ", ".join(spec.submodels)
    if len(args) != 1:
        sys.exit(f"usage: python -m plugins.trainer SUBMODEL, where SUBMODEL is one of the model spec's sub-models: {known}")
    if args[0] not in spec.submodels:
        sys.exit(f"{args[0]!r} is not a sub-model of the model spec ({DEFAULT_SPEC}): name one of {known}")
    return args[0]


def trainer_process(args: list[str]) -> None:
    """Serves the trainer of the sub-model `args` names until SIGTERM or SIGINT."""
    try:
        spec = load_spec()
    except SpecError as exc:
        sys.exit(f"cannot start a trainer: {exc}")
    main(Trainer(chosen_submodel(args, spec), spec))


if __name__ == "__main__":
    trainer_process(sys.argv[1:])
