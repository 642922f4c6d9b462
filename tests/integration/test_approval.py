"""The person's approval and rejection of a trained avatar (host/approval.py) through the host's
API and `twinforge avatar`, with the four trainer stages serving tiny real sub-models behind real
queue workers (tests/fixtures/tiny_submodels.py).

The real `quality_eval` (plugins/evaluation/) renders with the lip-sync graph, which cannot load the
tiny sub-models, so a small real stand-in serves the stage: it measures the refiner's held-out
error at predicting the voice's loudness from the face against the floor (always guessing the mean
loudness) and checks it against a per-preset limit, in the evaluation's report shape."""

from __future__ import annotations

import asyncio
import json

import grpc
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from host import approval
from host.approval import compounded
from host.artifacts import refs_from_json
from host.cli import main as cli
from host.flow import Flow, with_model
from host.storage import models
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.training import Setup
from plugins.sdk.errors import StageFailed
from plugins.trainer.plugin import Trainer, scaled
from plugins.trainer.spec import validate_spec
from host.presets import PRESETS_ORDER
from tests.fixtures.media import write_test_video
from tests.fixtures.services import require_samples
from tests.fixtures.tiny_submodels import MODULE, ROLE, SIZE, make_materials, make_training_set, prepare, weights
from tests.integration.test_retrain_downstream import Publish, runs_of, succeeded
from tests.integration.test_scheduler import platform, until, workers  # noqa: F401 (workers is a fixture)
from tests.integration.test_training_loop import upload
from twinforge.host.v1 import host_service_pb2 as host_pb

pytestmark = pytest.mark.samples

SUBMODELS = ("syncnet", "audio2lip", "generator", "refiner")
ITERATIONS = 20
SYNC_WEIGHT = 0.03
# render error <= scale * floor error: draft tolerates a tiny model near the floor, high wants it
# to halve the floor's error, which 20 iterations on 6 s never reach
LIMITS = {"draft": 1.5, "standard": 1.0, "high": 0.5}


def spec():
    """The tiny model's graph; audio2lip's preset has the sync-expert weight a "lips off"
    rejection scales (the tiny net ignores it, the trainer's config shows it)."""
    base = {"iterations": ITERATIONS, "checkpoint_every": 10, "max_minutes": 10, "batch_size": 16, "lr": 0.003, "crop_size": SIZE}
    graph = {"syncnet": (1, []), "audio2lip": (2, ["syncnet"]), "generator": (3, ["audio2lip"]), "refiner": (4, ["generator"])}
    presets = {name: {**base, **({"sync_weight": SYNC_WEIGHT} if name == "audio2lip" else {})} for name in graph}
    return validate_spec({
        "format": "twinforge.model_spec", "format_version": 1,
        "submodels": {
            name: {"module": MODULE, "role": ROLE, "level": level, "needs": needs, "resources": {"cpu_cores": 1, "gpus": 0},
                   "presets": {p: dict(presets[name]) for p in PRESETS_ORDER}}
            for name, (level, needs) in graph.items()
        },
    })


class TinyQualityEval(Plugin):
    """Stands in for quality_eval on the tiny sub-models: a real measure of the refiner on the
    held-out test clip, beside the floor and the ceiling (the real loudness: no error)."""

    name = "tiny-quality-eval"
    stages = ("quality_eval",)
    parameters_schema = {"type": "object", "properties": {"preset": {"enum": list(LIMITS)}, "generation": {"type": "integer"}}}

    def run(self, ctx: RunContext) -> None:
        preset = ctx.parameters.get("preset", "standard")
        (refiner,) = [i.path for i in ctx.inputs if i.ref.kind == "model" and json.loads(i.ref.metadata_json)["submodel"] == "refiner"]
        setup = Setup(training_set=ctx.input("training_set"), materials=json.loads(ctx.input("materials").read_text()), upstream={},
                      config={"batch_size": 16, "lr": 0.003}, device=torch.device("cpu"), rng=np.random.default_rng(0),
                      workdir=ctx.workdir, progress=lambda fraction, message: ctx.progress(fraction, message))
        tiny = prepare(setup)
        tiny.net.load_state_dict(weights(refiner))
        with torch.no_grad():
            render = tiny.evaluate()["held_out_mse"]
            floor = float((tiny.target[torch.from_numpy(tiny.test_rows)] ** 2).mean())
        limit = LIMITS[preset] * floor
        passed = render <= limit
        mean = {"render": {"loudness_error": render}, "floor": {"loudness_error": floor}, "ceiling": {"loudness_error": 0.0}}
        words = [f"The video {'passes' if passed else 'fails'} 1 check of the {preset} preset.",
                 f"{'passes' if passed else 'FAILS'}: the mouth tells how loud the voice is (loudness_error {render:.3g}, at most {limit:.3g})."]
        report = ctx.workdir / "quality_eval.json"
        report.write_text(json.dumps({"format": "twinforge.evaluation", "format_version": 1, "preset": preset, "mean": mean,
                                      "passed": passed, "summary": words}))
        ctx.save_artifact(report, report.name, "evaluation", {"preset": preset, "passed": passed})
        ctx.summary = {"preset": preset, "passed": passed, "mean": mean, "summary": words}


def model_refs(avatar_id: str, generation: int) -> list:
    """The model files of the sub-models a generation trained, the accepted older ones standing in
    for those it kept."""
    found = {}
    for stage in SUBMODELS:
        for run in runs_of(avatar_id, stage):
            if run.state == "succeeded" and json.loads(run.parameters_json or "{}").get("generation", 0) <= generation:
                found[stage] = [ref for ref in json.loads(run.outputs_json) if ref["kind"] == "model"][0]
    return list(found.values())


async def evaluate(stub, avatar_id: str, generation: int, preset: str) -> models.StageRun:
    inputs = [ref for stage in ("crop", "material_extraction") for ref in json.loads(runs_of(avatar_id, stage)[0].outputs_json)]
    inputs += model_refs(avatar_id, generation)
    refs = [refs_from_json(json.dumps([ref]))[0] for ref in inputs]
    count = sum(run.state == "succeeded" for run in runs_of(avatar_id, "quality_eval"))
    await stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id=avatar_id, stage="quality_eval", inputs=refs,
                                                      parameters_json=json.dumps({"preset": preset})))
    return (await until(lambda: succeeded(avatar_id, "quality_eval", count + 1), 60, f"the {preset} evaluation"))[-1]


async def refused(call, request) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(request)
    return caught.value.details()


def notified(avatar_id: str, kind: str) -> list[dict]:
    rows = models.Notification.select().where((models.Notification.avatar == avatar_id) & (models.Notification.kind == kind))
    return [json.loads(row.payload_json) for row in rows.order_by(models.Notification.seq)]


async def test_approval_unlocks_deployment_and_a_rejection_retrains_only_downstream(host, runtime, workers, tmp_path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    training_set = make_training_set(require_samples() / "congress_60s_256.mp4", folder)
    materials = make_materials(folder)
    tiny = spec()
    runtime.flow = with_model(Flow(needs={"crop": ()}), tiny)
    plugins = [Publish("crop", training_set, "training_set"), Publish("material_extraction", materials, "materials"),
               *(Trainer(name, tiny, prepare) for name in SUBMODELS), TinyQualityEval()]
    async with platform(host, *plugins) as stub:
        await workers.start("--cpu-slot", "0")
        await workers.start("--cpu-slot", "1")
        avatar_id = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Approve", owner="cli:approve"))).avatar.avatar_id
        video = await upload(stub, avatar_id, write_test_video(tmp_path / "v.mp4"), "video")
        await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar_id, video=video))
        await until(lambda: succeeded(avatar_id, "refiner", 1), 120, "the whole model was trained")
        approve = host_pb.ApproveAvatarRequest(avatar_id=avatar_id, by="telegram:42")

        assert "no finished evaluation" in await refused(stub.ApproveAvatar, approve)
        early = await asyncio.to_thread(CliRunner().invoke, cli, ["avatar", "approve", avatar_id, "--by", "cli:alice"])
        assert early.exit_code == 1 and f"wait for quality_eval to finish (twinforge watch {avatar_id})" in early.output
        await evaluate(stub, avatar_id, 0, "high")
        assert "did not pass the high limits" in await refused(stub.ApproveAvatar, approve)
        assert notified(avatar_id, "evaluation_below_limits") and not notified(avatar_id, "preview_ready")
        await evaluate(stub, avatar_id, 0, "draft")
        (ready,) = notified(avatar_id, "preview_ready")
        assert ready["passed"] and ready["generation"] == 0 and "loudness_error" in ready["words"][1]
        assert approval.can_deploy(avatar_id)[0] is False

        # lips off: the lips retrained against the sync expert with twice its weight and more iterations, then the rest
        rejected = await stub.RejectAvatar(host_pb.RejectAvatarRequest(avatar_id=avatar_id, by="telegram:42", reason="lips_off"))
        assert [run.stage for run in rejected.started] == ["audio2lip"] and "against the sync expert with twice its weight" in rejected.message
        assert approval.can_deploy(avatar_id)[0] is False
        refiners = await until(lambda: succeeded(avatar_id, "refiner", 2), 120, "the adjusted generation reached the refiner")
        assert {stage: len(runs_of(avatar_id, stage)) for stage in SUBMODELS} == {"syncnet": 1, "audio2lip": 2, "generator": 2, "refiner": 2}
        new_lips = runs_of(avatar_id, "audio2lip")[1]
        assert json.loads(new_lips.parameters_json) == {"generation": 1, "scale": {"sync_weight": 2.0, "iterations": 1.5}}
        config = json.loads(new_lips.summary_json)["config"]
        assert config["sync_weight"] == pytest.approx(2 * SYNC_WEIGHT) and json.loads(new_lips.summary_json)["iterations"] == 30
        assert json.loads(runs_of(avatar_id, "generator")[1].parameters_json) == {"generation": 1}
        assert json.loads(refiners[1].parameters_json) == {"generation": 1}
        assert approval.can_deploy(avatar_id)[0] is False, "a retrain does not unlock deployment"

        # a new evaluation does not either; a wrong clip retrains nothing and points to the materials
        await evaluate(stub, avatar_id, 1, "draft")
        assert approval.can_deploy(avatar_id) == (False, "round 3 passed and waits for the person's approval")
        wrong = await stub.RejectAvatar(host_pb.RejectAvatarRequest(avatar_id=avatar_id, by="telegram:42", reason="wrong_clip"))
        assert not wrong.started and f"twinforge materials edit {avatar_id} choose" in wrong.message
        assert len(runs_of(avatar_id, "generator")) == 2 and approval.can_deploy(avatar_id)[0] is False
        assert "already rejected" in await refused(stub.ApproveAvatar, approve)

        await evaluate(stub, avatar_id, 1, "draft")
        runtime.settings = runtime.settings.model_copy(update={"max_rejections": 2})
        again = host_pb.RejectAvatarRequest(avatar_id=avatar_id, by="telegram:42", reason="lips_off")
        assert f"avatar {avatar_id} was rejected 2 times, the most one avatar may be" in await refused(stub.RejectAvatar, again)
        assert len(runs_of(avatar_id, "audio2lip")) == 2, "a refused rejection retrains nothing"
        approved = await stub.ApproveAvatar(approve)
        assert approved.can_deploy and approved.round.round == 4 and approved.round.generation == 1

        listed = await asyncio.to_thread(CliRunner().invoke, cli, ["avatar", "rounds", avatar_id, "--json"])
        assert listed.exit_code == 0, listed.output

    shown = json.loads(listed.output)
    assert shown["can_deploy"] and "telegram:42 approved round 4" in shown["deploy_reason"]
    rows = [(r["generation"], r["preset"], r["passed"], r["verdict"], r["reason"]) for r in shown["rounds"]]
    assert rows == [(0, "high", False, "", ""), (0, "draft", True, "rejected", "lips_off"),
                    (1, "draft", True, "rejected", "wrong_clip"), (1, "draft", True, "approved", "")]
    assert shown["rounds"][1]["retrain_generation"] == 1 and shown["rounds"][2]["retrain_generation"] == 0
    assert all(set(r["measures"]) == {"render", "floor", "ceiling"} and r["words"] for r in shown["rounds"])


def test_adjustments_compound_over_rounds_up_to_their_bound() -> None:
    lips = approval.ADJUSTMENTS["lips_off"].scale["audio2lip"]
    scale: dict[str, float] = {}
    for _ in range(10):
        scale = compounded(scale, lips)
    assert scale == {"sync_weight": approval.MOST_SCALE, "iterations": approval.MOST_SCALE}
    assert compounded({"epochs": 2.0}, {"iterations": 1.5}) == {"epochs": 2.0, "iterations": 1.5}


def test_a_scale_of_a_setting_the_preset_lacks_fails_with_the_settings_it_has() -> None:
    config = {"iterations": 20, "checkpoint_every": 10, "lr": 0.003, "preset": "draft"}
    assert scaled(config, {"iterations": 1.5, "lr": 2}, "generator") == {**config, "iterations": 30, "lr": 0.006}
    assert scaled(config, {"iterations": 0.2}, "generator")["checkpoint_every"] == 4
    with pytest.raises(StageFailed) as caught:
        scaled(config, {"sync_weight": 2, "preset": 2}, "refiner")
    assert caught.value.code == "unknown_setting" and "preset, sync_weight" in caught.value.message
    assert "checkpoint_every, iterations, lr" in caught.value.advice
