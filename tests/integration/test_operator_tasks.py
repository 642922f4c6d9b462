"""Operator tasks (host/operator_tasks.py): a rejection for "something else" waits for an operator,
who answers through the host's API or `twinforge tasks` with words and a retrain, the round given
back, or (once a newer round came) words only. The avatar is the tiny real model of
tests/integration/test_approval.py, trained and evaluated behind real queue workers, so the
retrain an answer starts is a real one."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from host import auth, use_cases
from host.channels import host_channel_aio
from host.cli import main as cli
from host.flow import Flow, with_model
from host.settings import get_settings
from host.storage import models
from host.storage.db import migrate
from host.unit_of_work import unit_of_work
from plugins.trainer.plugin import Trainer
from tests.fixtures.media import write_test_video
from tests.fixtures.services import require_samples
from tests.fixtures.tiny_submodels import make_materials, make_training_set, prepare
from tests.integration.test_approval import SUBMODELS, TinyQualityEval, evaluate, notified, refused, spec
from tests.integration.test_facts_in_tables import EVALUATION, START, _database_at, _run
from tests.integration.test_retrain_downstream import Publish, runs_of, succeeded
from tests.integration.test_scheduler import platform, until, workers  # noqa: F401 (workers is a fixture)
from tests.integration.test_training_loop import upload
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

pytestmark = pytest.mark.samples
PERSON = "telegram:42"


def cli_call(*args: str):
    return CliRunner().invoke(cli, list(args))


async def test_words_for_something_else_wait_for_an_operator_who_retrains_gives_the_round_back_or_answers(host, runtime, workers, tmp_path):
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
        avatar_id = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Olga's", owner=PERSON))).avatar.avatar_id
        video = await upload(stub, avatar_id, write_test_video(tmp_path / "v.mp4"), "video")
        await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar_id, video=video))
        await until(lambda: succeeded(avatar_id, "refiner", 1), 120, "the whole model was trained")
        await evaluate(stub, avatar_id, 0, "draft")

        def other(words: str) -> host_pb.RejectAvatarRequest:
            return host_pb.RejectAvatarRequest(avatar_id=avatar_id, by=PERSON, reason="other", text=words)

        rejected = await stub.RejectAvatar(other("the teeth look grey"))
        assert not rejected.started and "an operator reads your words and answers you" in rejected.message
        (first,) = (await stub.ListOperatorTasks(host_pb.ListOperatorTasksRequest())).tasks
        assert (first.avatar_id, first.avatar_name, first.owner, first.round, first.text, first.asked_by, first.outcome) == (
            avatar_id, "Olga's", PERSON, 1, "the teeth look grey", PERSON, "")
        assert notified(avatar_id, "avatar_rejected")[-1]["task"] == first.task_id

        # the person's own key sees their task and cannot answer it; another person sees nothing
        (_, own), (_, stranger) = [await asyncio.to_thread(auth.issue, who, "user") for who in (PERSON, "cli:ben")]
        for key, seen in ((own, [first.task_id]), (stranger, [])):
            async with host_channel_aio(host, get_settings().model_copy(update={"api_key": SecretStr(key)})) as channel:
                theirs = host_grpc.HostServiceStub(channel)
                assert [t.task_id for t in (await theirs.ListOperatorTasks(host_pb.ListOperatorTasksRequest())).tasks] == seen
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await theirs.AnswerOperatorTask(host_pb.AnswerOperatorTaskRequest(task_id=first.task_id, answer="done"))
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED and "only an operator key" in caught.value.details()

        answer = host_pb.AnswerOperatorTaskRequest(task_id=first.task_id, answer="The light was low; I sharpened the mouth.", by="cli:olga")
        assert "needs words for the person" in await refused(stub.AnswerOperatorTask, host_pb.AnswerOperatorTaskRequest(task_id=first.task_id, answer=" "))
        assert "not an adjustment that retrains" in await refused(
            stub.AnswerOperatorTask, host_pb.AnswerOperatorTaskRequest(task_id=first.task_id, answer="x", retrain_reason="wrong_clip"))
        assert "no operator task 'nope'" in await refused(stub.AnswerOperatorTask, host_pb.AnswerOperatorTaskRequest(task_id="nope", answer="x"))

        # retrain: the adjustment for lips that are off, as if the person had chosen it
        answer.retrain_reason = "lips_off"
        retrained = await stub.AnswerOperatorTask(answer)
        assert retrained.task.outcome == "retrain" and retrained.task.retrain_generation == 1 and retrained.task.answered_by == "cli:olga"
        assert [run.stage for run in retrained.started] == ["audio2lip"]
        assert json.loads(models.StageRun.get_by_id(retrained.started[0].run_id).parameters_json)["scale"] == {"sync_weight": 2.0, "iterations": 1.5}
        (told,) = notified(avatar_id, "operator_answered")
        assert {k: told[k] for k in ("task", "text", "answer", "outcome", "reason", "retrain_generation")} == {
            "task": first.task_id, "text": "the teeth look grey", "answer": "The light was low; I sharpened the mouth.", "outcome": "retrain",
            "reason": "lips_off", "retrain_generation": 1}
        (round_one,) = (await stub.ListRounds(host_pb.ListRoundsRequest(avatar_id=avatar_id))).rounds
        assert (round_one.verdict, round_one.reason, round_one.retrain_generation) == ("rejected", "other", 1)
        assert "answered by cli:olga already" in await refused(stub.AnswerOperatorTask, answer)
        assert not (await stub.ListOperatorTasks(host_pb.ListOperatorTasksRequest())).tasks

        # reopen: the round is the person's to judge again, through the CLI
        await until(lambda: succeeded(avatar_id, "refiner", 2), 120, "the retrained refiner")
        await evaluate(stub, avatar_id, 1, "draft")
        await stub.RejectAvatar(other("my hair looks odd"))
        listed = await asyncio.to_thread(cli_call, "tasks", "ls", "--json")
        (second,) = json.loads(listed.output)["tasks"]
        assert second["text"] == "my hair looks odd" and second["round"] == 2
        given_back = await asyncio.to_thread(cli_call, "tasks", "answer", second["task"], "--text", "That is how the video shows it.")
        assert given_back.exit_code == 0 and "the round is given back to the person" in given_back.output, given_back.output
        rounds = (await stub.ListRounds(host_pb.ListRoundsRequest(avatar_id=avatar_id))).rounds
        assert [r.verdict for r in rounds] == ["rejected", ""] and len(runs_of(avatar_id, "refiner")) == 2
        # a round given back may be rejected for other words again: a task of its own

        # words only: a newer round came before the answer
        await stub.RejectAvatar(other("the eyes look tired"))
        (third,) = (await stub.ListOperatorTasks(host_pb.ListOperatorTasksRequest())).tasks
        await evaluate(stub, avatar_id, 1, "draft")
        late = host_pb.AnswerOperatorTaskRequest(task_id=third.task_id, answer="Look at the newest one.", retrain_reason="jitter")
        assert "is no longer the newest" in await refused(stub.AnswerOperatorTask, late)
        late.retrain_reason = ""
        assert (await stub.AnswerOperatorTask(late)).task.outcome == "answer"
        approved = await stub.ApproveAvatar(host_pb.ApproveAvatarRequest(avatar_id=avatar_id, by=PERSON))
        assert approved.can_deploy and approved.round.round == 3

        everything = await asyncio.to_thread(cli_call, "tasks", "ls", "--all")
        assert everything.exit_code == 0 and everything.output.count("answered by") == 3, everything.output
        assert [n["outcome"] for n in notified(avatar_id, "operator_answered")] == ["retrain", "reopen", "answer"]


@pytest.fixture
def before_tasks(db_url: str):
    """A database at the schema before operator tasks had their table."""
    yield from _database_at(db_url, "0005_retrain_plans_and_verdicts")


def test_a_round_rejected_for_other_words_before_the_tasks_gets_an_open_one(before_tasks) -> None:
    with unit_of_work() as uow:
        avatar = use_cases.create_avatar(uow, PERSON, "Anna").id
    for number, (reason, text) in enumerate((("lips_off", ""), ("other", "the teeth look grey")), start=1):
        run = _run(avatar, EVALUATION, "succeeded", number, {}, (), {"passed": True, "preset": "draft"})
        models.Round.create(avatar=avatar, number=number, evaluation_run=run, submission_version=1, generation=0, passed=True, preset="draft",
                            verdict="rejected", verdict_by=PERSON, verdict_reason=reason, verdict_text=text, decided_at=START)

    assert migrate(before_tasks) == ["0006_operator_tasks"]

    (task,) = models.OperatorTask.select()
    assert (task.avatar_id, task.round.number, task.text, task.asked_by, task.created_at, task.answered_at, task.outcome) == (
        avatar, 2, "the teeth look grey", PERSON, START, None, "")
