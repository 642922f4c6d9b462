"""Accepting, rejecting and retraining sub-models through `twinforge model`, with the four trainer
stages serving tiny real sub-models (tests/fixtures/tiny_submodels.py) behind real queue workers:
retraining from an accepted audio2lip reruns generator and refiner only, as generation 1, on the
accepted runs' model files."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from host import retraining, use_cases
from host.flow import Flow, with_model
from host.storage import models
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.trainer.plugin import Trainer
from tests.fixtures.media import write_test_video
from tests.fixtures.services import require_samples
from tests.fixtures.tiny_submodels import make_materials, make_training_set, prepare, tiny_spec
from tests.integration.test_scheduler import platform, until, workers  # noqa: F401 (workers is a fixture)
from tests.integration.test_training_loop import upload
from twinforge.host.v1 import host_service_pb2 as host_pb

pytestmark = pytest.mark.samples

SUBMODELS = ("syncnet", "audio2lip", "generator", "refiner")


class Publish(Plugin):
    """Stands in for a preprocessing stage by storing a file made beforehand (the tiny training set,
    its materials), so that this test trains without preprocessing a video first."""

    def __init__(self, stage: str, path: Path, kind: str) -> None:
        self.name = f"publish-{stage}"
        self.stages = (stage,)
        self.path = path
        self.kind = kind

    def run(self, ctx: RunContext) -> None:
        ctx.save_artifact(self.path, self.path.name, self.kind)


async def model_cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "host.cli", "model", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode, out.decode()


def runs_of(avatar_id: str, stage: str) -> list[models.StageRun]:
    return list(
        models.StageRun.select()
        .where((models.StageRun.avatar == avatar_id) & (models.StageRun.stage == stage))
        .order_by(models.StageRun.created_at)
    )


def succeeded(avatar_id: str, stage: str, count: int) -> list[models.StageRun] | None:
    every = models.StageRun.select().where(models.StageRun.avatar == avatar_id)
    broken = [(run.stage, run.error_json) for run in every if run.state == "failed"]
    assert not broken, broken
    runs = runs_of(avatar_id, stage)
    return runs if sum(run.state == "succeeded" for run in runs) >= count else None


def model_key(run: models.StageRun) -> str:
    (ref,) = [ref for ref in json.loads(run.outputs_json) if ref["kind"] == "model"]
    return ref["key"]


def input_keys(run: models.StageRun) -> set[str]:
    return {ref["key"] for ref in json.loads(run.inputs_json)}


async def test_retraining_from_an_accepted_audio2lip_reruns_generator_and_refiner_only(host, runtime, workers, tmp_path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    training_set = make_training_set(require_samples() / "congress_60s_256.mp4", folder)
    materials = make_materials(folder)
    spec = tiny_spec(iterations=20, checkpoint_every=10)
    runtime.flow = with_model(Flow(needs={"crop": ()}), spec)
    plugins = [
        Publish("crop", training_set, "training_set"),
        Publish("material_extraction", materials, "materials"),
        *(Trainer(name, spec, prepare) for name in SUBMODELS),
    ]
    async with platform(host, *plugins) as stub:
        await workers.start("--cpu-slot", "0")
        await workers.start("--cpu-slot", "1")
        avatar_id = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Retrain", owner="cli:retrain"))).avatar.avatar_id
        video = await upload(stub, avatar_id, write_test_video(tmp_path / "v.mp4"), "video")
        await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar_id, video=video))
        (first_refiner,) = await until(lambda: succeeded(avatar_id, "refiner", 1), 120, "the whole model was trained")

        rc, out = await model_cli("retrain", avatar_id, "--from", "audio2lip")
        assert rc == 1 and "no accepted run" in out and f"twinforge model accept {avatar_id} audio2lip" in out
        assert (await model_cli("accept", avatar_id, "audio2lip"))[0] == 0
        rc, out = await model_cli("reject", avatar_id, "syncnet", "--reason", "out of sync on plosives")
        assert rc == 0 and "rejected syncnet" in out
        rc, out = await model_cli("retrain", avatar_id, "--from", "audio2lip")
        assert rc == 1 and "reuses syncnet, and every finished run of it was rejected" in out
        assert (await model_cli("accept", avatar_id, "syncnet"))[0] == 0

        rc, out = await model_cli("retrain", avatar_id, "--from", "audio2lip", "--json")
        assert rc == 0, out
        (started,) = json.loads(out)
        assert started["stage"] == "generator" and started["generation"] == 1
        refiners = await until(lambda: succeeded(avatar_id, "refiner", 2), 120, "the retrained generation reached the refiner")

    runs = {stage: runs_of(avatar_id, stage) for stage in ("crop", "material_extraction", *SUBMODELS)}
    assert {stage: len(r) for stage, r in runs.items()} == {
        "crop": 1, "material_extraction": 1, "syncnet": 1, "audio2lip": 1, "generator": 2, "refiner": 2,
    }
    (syncnet,), (audio2lip,) = runs["syncnet"], runs["audio2lip"]
    old_generator, new_generator = runs["generator"]
    new_refiner = refiners[1]
    assert new_generator.id == started["run_id"] and new_refiner.id != first_refiner.id
    for run in (new_generator, new_refiner):
        assert json.loads(run.parameters_json) == {"generation": 1} and run.state == "succeeded"
    # the new generation trains on the accepted runs' model files and its own generator's
    assert model_key(audio2lip) in input_keys(new_generator) and model_key(syncnet) not in input_keys(new_generator)
    assert model_key(new_generator) in input_keys(new_refiner)
    assert model_key(old_generator) not in input_keys(new_refiner)
    assert json.loads(new_generator.summary_json)["iterations"] == 20

    kinds = [n.kind for n in models.Notification.select().where(models.Notification.avatar == avatar_id)]
    assert kinds.count("submodel_accepted") == 2 and kinds.count("submodel_rejected") == 1
    (plan,) = [json.loads(n.payload_json) for n in models.Notification.select().where(models.Notification.kind == "retrain_started")]
    assert use_cases.retrain_plan(avatar_id, 1, 1) == plan, "the host follows the plan's row, which the notification tells"
    assert [retraining.verdict(run.id) for run in (syncnet, audio2lip, old_generator)] == ["accepted", "accepted", None]
    # the evaluation of the graph reruns too (its plugins are not registered in this test)
    assert plan["rerun"] == ["generator", "refiner", "sync_detection", "quality_eval"] and plan["from_run"] == audio2lip.id
    assert plan["base_runs"] == {"crop": runs["crop"][0].id, "material_extraction": runs["material_extraction"][0].id,
                                 "syncnet": syncnet.id, "audio2lip": audio2lip.id}
