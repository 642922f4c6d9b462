"""The training loop with a tiny real sub-model (tests/fixtures/tiny_submodels.py) on a training set
made from the congress sample: checkpoints at the interval, metrics, progress with an ETA, stop
rules, a stale checkpoint ignored, a cancel obeyed within a second, and a trainer whose worker is
killed after its second checkpoint resuming to exactly the weights of an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from host.flow import Flow
from host.storage import models
from host.storage.local import LocalBlobStore
from plugins.sdk import context as sdk_context
from plugins.sdk import training
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.errors import Cancelled
from plugins.trainer.plugin import Trainer
from tests.fixtures.services import require_samples
from tests.fixtures.tiny_submodels import make_materials, make_training_set, prepare, tiny_spec, weights
from tests.integration.test_scheduler import notes, platform, until, workers  # noqa: F401 (workers is a fixture)
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

pytestmark = pytest.mark.samples

EVERY = 10
ITERATIONS = 40
HOLD_AT = 2 * EVERY + 3  # the first attempt stalls three iterations after its second checkpoint


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny-set")
    return make_training_set(require_samples() / "congress_60s_256.mp4", folder), make_materials(folder)


@pytest.fixture
def every_report(monkeypatch):
    """Every metric and progress report goes out, so the test sees each iteration's."""
    monkeypatch.setattr(training, "METRICS_EVERY_S", 0.0)
    monkeypatch.setattr(sdk_context, "PROGRESS_EVERY_S", 0.0)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def context(tmp_path: Path, data: tuple[Path, Path], events: list, resume: Path | None = None) -> RunContext:
    workdir = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    workdir.mkdir()
    inputs = [
        LocalInput(plugin_pb.ArtifactRef(key="set", kind="training_set", sha256=sha(data[0])), data[0]),
        LocalInput(plugin_pb.ArtifactRef(key="materials", kind="materials", sha256=sha(data[1])), data[1]),
    ]
    return RunContext(
        avatar_id="av", stage="syncnet", run_id="r", attempt=1, parameters={"preset": "draft"}, workdir=workdir,
        inputs=inputs, resume_checkpoint=resume, blobs=LocalBlobStore(tmp_path / "blobs"), emit=events.append,
    )


def of(events: list, kind: str) -> list:
    return [getattr(e, kind) for e in events if e.HasField(kind)]


def artifacts(events: list, kind: str) -> list[plugin_pb.ArtifactRef]:
    return [a.artifact for a in of(events, "artifact") if a.artifact.kind == kind]


def fetched(ctx: RunContext, ref: plugin_pb.ArtifactRef, path: Path) -> Path:
    ctx.blobs.get_file(ref.key, path, ref.sha256)
    return path


def test_training_checkpoints_at_the_interval_reports_each_iteration_and_learns(tmp_path, data, every_report) -> None:
    events: list = []
    ctx = context(tmp_path, data, events)
    Trainer("syncnet", tiny_spec(ITERATIONS, EVERY), prepare).run(ctx)

    saved = [json.loads(ref.metadata_json)["iteration"] for ref in artifacts(events, "checkpoint")]
    assert saved == [10, 20, 30, 40]
    metrics = of(events, "metric")
    assert [m.step for m in metrics if m.name == "loss"] == list(range(1, ITERATIONS + 1))
    assert {m.name for m in metrics} == {"loss", "lr", "samples_per_second", "eval_train_mse", "eval_held_out_mse"}
    assert all(m.value > 0 for m in metrics if m.name == "samples_per_second")
    lrs = [m.value for m in metrics if m.name == "lr"]
    assert lrs[0] > lrs[-1]  # the scheduler's state moves on

    training_reports = [p for p in of(events, "progress") if "iteration" in p.message]
    assert len(training_reports) == ITERATIONS
    assert all(p.eta_seconds > 0 for p in training_reports[:-1]) and training_reports[-1].eta_seconds == 0
    assert training_reports[0].eta_seconds > training_reports[ITERATIONS // 2].eta_seconds
    assert [p.fraction for p in training_reports] == sorted(p.fraction for p in training_reports)

    (model,) = artifacts(events, "model")
    assert model.name == "syncnet.pt"
    meta = json.loads(model.metadata_json)
    assert meta["submodel"] == "syncnet" and meta["preset"] == "draft" and meta["iterations"] == ITERATIONS
    assert set(weights(fetched(ctx, model, tmp_path / "model.pt"))) == {"0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias"}

    summary = ctx.summary
    assert summary["iterations"] == ITERATIONS and summary["resumed_from"] == 0 and summary["stopped"] == "iterations"
    train_mse = [h["evaluation"]["train_mse"] for h in summary["history"]]
    assert train_mse == sorted(train_mse, reverse=True) and train_mse[-1] < 0.8  # from 1.0, the target's variance
    assert summary["evaluation"] == summary["history"][-1]["evaluation"]
    assert set(summary["losses"]) == {"loss", "lr"} and summary["samples_per_second"] > 0


def test_a_checkpoint_resumes_only_for_the_same_config_and_inputs(tmp_path, data) -> None:
    events: list = []
    first = context(tmp_path, data, events)
    Trainer("syncnet", tiny_spec(20, EVERY), prepare).run(first)
    last = fetched(first, artifacts(events, "checkpoint")[-1], tmp_path / "last.pt")

    again: list = []
    same = context(tmp_path, data, again, resume=last)
    Trainer("syncnet", tiny_spec(20, EVERY), prepare).run(same)
    assert same.summary["resumed_from"] == 20 and same.summary["samples_per_second"] is None
    assert same.summary["evaluation"] == first.summary["evaluation"]
    before = weights(fetched(first, artifacts(events, "model")[0], tmp_path / "a.pt"))
    after = weights(fetched(same, artifacts(again, "model")[0], tmp_path / "b.pt"))
    assert all(torch.equal(before[name], after[name]) for name in before)

    other: list = []
    longer = context(tmp_path, data, other, resume=last)
    Trainer("syncnet", tiny_spec(30, EVERY), prepare).run(longer)  # another config: another fingerprint
    assert longer.summary["resumed_from"] == 0 and longer.summary["iterations"] == 30
    assert any("other inputs, settings or code" in line.message for line in of(other, "log"))


def test_stop_rules_end_training_early(tmp_path, data) -> None:
    events: list = []
    ctx = context(tmp_path, data, events)
    rules = training.StopRules(measure="held_out_mse", patience=1, min_delta=100.0)  # nothing improves by 100
    trainable = prepare(_setup(ctx, data))
    summary = training.run_training(ctx, trainable, trainable.rng, ITERATIONS, EVERY, rules=rules)
    assert summary["stopped"] == "early_stop" and summary["iterations"] == 2 * EVERY

    # a crash after the early stop's checkpoint resumes to the same end, not to more training
    stopped = fetched(ctx, artifacts(events, "checkpoint")[-1], tmp_path / "stopped.pt")
    ctx = context(tmp_path, data, [], resume=stopped)
    trainable = prepare(_setup(ctx, data))
    again = training.run_training(ctx, trainable, trainable.rng, ITERATIONS, EVERY, rules=rules)
    assert again["stopped"] == "early_stop" and again["iterations"] == 2 * EVERY and again["samples_per_second"] is None

    ctx = context(tmp_path, data, [])
    trainable = prepare(_setup(ctx, data))
    summary = training.run_training(ctx, trainable, trainable.rng, ITERATIONS, EVERY, rules=training.StopRules(max_seconds=0.0))
    assert summary["stopped"] == "time_limit" and summary["iterations"] == 1

    ctx = context(tmp_path, data, [])
    trainable = prepare(_setup(ctx, data))
    first = trainable.evaluate()["held_out_mse"]
    target = training.StopRules(measure="held_out_mse", patience=100, target=first * 10)  # already good enough
    summary = training.run_training(ctx, trainable, trainable.rng, ITERATIONS, EVERY, rules=target)
    assert summary["stopped"] == "target_reached" and summary["iterations"] == EVERY
    unreachable = training.StopRules(measure="held_out_mse", patience=100, target=-1.0)
    ctx = context(tmp_path, data, [])
    trainable = prepare(_setup(ctx, data))
    assert training.run_training(ctx, trainable, trainable.rng, ITERATIONS, EVERY, rules=unreachable)["stopped"] == "iterations"


def _setup(ctx: RunContext, data: tuple[Path, Path]) -> training.Setup:
    return training.Setup(
        training_set=data[0], materials=json.loads(data[1].read_text()), upstream={},
        config={"batch_size": 16, "lr": 0.003}, device=torch.device("cpu"), rng=np.random.default_rng(0),
        workdir=ctx.workdir, progress=lambda fraction, message: None,
    )


class Overfitting:
    """The tiny sub-model, its held-out measure made best at its second evaluation and worse after
    (as a model that overfits); it keeps its weights as they were at that evaluation."""

    def __init__(self, trainable) -> None:
        self.trainable, self.evaluations, self.at_best = trainable, 0, {}
        self.modules, self.optimizers, self.schedulers = trainable.modules, trainable.optimizers, trainable.schedulers
        self.batch_size, self.step, self.export = trainable.batch_size, trainable.step, trainable.export

    def evaluate(self) -> dict[str, float]:
        self.evaluations += 1
        if self.evaluations == 2:
            self.at_best = {k: v.clone() for k, v in self.trainable.net.state_dict().items()}
        return {"held_out_mse": 1.0 if self.evaluations == 2 else 2.0 + self.evaluations}


def test_the_run_ends_with_the_weights_of_its_best_held_out_evaluation(tmp_path, data) -> None:
    ctx = context(tmp_path, data, [])
    model = Overfitting(prepare(_setup(ctx, data)))
    rules = training.StopRules(measure="held_out_mse", patience=10)
    summary = training.run_training(ctx, model, model.trainable.rng, ITERATIONS, EVERY, rules=rules)
    assert summary["stopped"] == "iterations" and summary["iterations"] == ITERATIONS
    assert summary["best_iteration"] == 2 * EVERY and summary["evaluation"] == {"held_out_mse": 1.0}
    for name, value in model.trainable.net.state_dict().items():  # what export writes: the weights of iteration 20, not 40
        assert torch.equal(value, model.at_best[name]), name


def test_a_cancelled_run_stops_within_a_second(tmp_path, data) -> None:
    events: list = []
    ctx = context(tmp_path, data, events)
    outcome: list = []

    def train() -> None:
        try:
            Trainer("syncnet", tiny_spec(10**7, 10**6), prepare).run(ctx)
        except Cancelled as exc:
            outcome.append((time.monotonic(), exc))

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.monotonic() + 30
    while not of(list(events), "metric") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well into training
    asked = time.monotonic()
    ctx.cancelled.set()
    thread.join(5)
    assert not thread.is_alive() and outcome, "the training did not stop"
    assert outcome[0][0] - asked < 1.0


class StallingTrainer(Trainer):
    """The real trainer; its first run stalls at HOLD_AT (past its second checkpoint) until the
    test kills the worker running it, which the plugin sees as its call cancelled."""

    def __init__(self) -> None:
        super().__init__("syncnet", tiny_spec(ITERATIONS, EVERY), prepare)
        self.held = threading.Event()

    def run(self, ctx: RunContext) -> None:
        if not self.held.is_set():
            report = ctx.metric

            def report_then_hold(name: str, value: float, step: int = 0) -> None:
                report(name, value, step)
                if name == "loss" and step == HOLD_AT:
                    self.held.set()
                    while True:
                        ctx.check_cancelled()
                        time.sleep(0.05)

            ctx.metric = report_then_hold
        super().run(ctx)


async def upload(stub, avatar_id: str, path: Path, kind: str) -> plugin_pb.ArtifactRef:
    async def parts():
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind=kind, filename=path.name))
        yield host_pb.UploadArtifactRequest(chunk=path.read_bytes())

    return (await stub.UploadArtifact(parts())).artifact


def checkpoints(run_id: str) -> list[dict]:
    return [p for p in (json.loads(n.payload_json) for n in notes(run_id, "stage_artifact")) if p["kind"] == "checkpoint"]


def finished(run_id: str) -> models.StageRun | None:
    run = models.StageRun.get_by_id(run_id)
    assert run.state != "failed", run.error_json
    return run if run.state == "succeeded" else None


def model_weights(runtime, run: models.StageRun, path: Path) -> dict[str, torch.Tensor]:
    (ref,) = [ref for ref in json.loads(run.outputs_json) if ref["kind"] == "model"]
    runtime.blobs.get_file(ref["key"], path, ref["sha256"])
    return weights(path)


async def test_a_trainer_killed_after_its_second_checkpoint_resumes_to_the_same_weights(host, runtime, workers, data, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(training, "METRICS_EVERY_S", 0.0)
    runtime.flow = Flow(needs={"syncnet": ()})
    trainer = StallingTrainer()
    async with platform(host, trainer) as stub:
        doomed = await workers.start("--cpu-slot", "0")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Trainee", owner="cli:trainee"))).avatar
        inputs = [await upload(stub, avatar.avatar_id, data[0], "training_set"), await upload(stub, avatar.avatar_id, data[1], "materials")]
        request = host_pb.SubmitStageRequest(avatar_id=avatar.avatar_id, stage="syncnet", inputs=inputs, parameters_json='{"preset": "draft"}')
        run_id = (await stub.SubmitStage(request)).run.run_id
        await until(lambda: trainer.held.is_set() and len(checkpoints(run_id)) == 2, 60, "the trainer stored its second checkpoint")
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        await workers.start("--cpu-slot", "1")
        resumed = await until(lambda: finished(run_id), 60, "the killed trainer resumed and finished")
        summary = json.loads(resumed.summary_json)
        assert resumed.attempt == 2 and summary["resumed_from"] == 2 * EVERY and summary["iterations"] == ITERATIONS
        assert HOLD_AT - summary["resumed_from"] <= EVERY  # at most one interval of work lost
        assert [c["name"] for c in checkpoints(run_id)] == ["checkpoint"] * 4

        again_id = (await stub.SubmitStage(request)).run.run_id
        again = await until(lambda: finished(again_id), 60, "the uninterrupted trainer finished")
        assert again.attempt == 1 and json.loads(again.summary_json)["resumed_from"] == 0
    first = model_weights(runtime, resumed, tmp_path / "resumed.pt")
    second = model_weights(runtime, again, tmp_path / "uninterrupted.pt")
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert json.loads(resumed.summary_json)["evaluation"] == json.loads(again.summary_json)["evaluation"]
