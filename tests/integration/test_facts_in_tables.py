"""Facts that lived only in notification payloads, now in columns and tables of their own (issue
22): a submission's preset (`submission.preset`), the approval rounds with their verdicts
(`round`), retrain plans (`retrain_plan`, `retrain_stage`) and sub-model verdicts
(`stage_run.verdict`). The migrations fill them from a database made before, on both engines, and
the host reads them from there: the notifications only tell the person."""

from __future__ import annotations

import datetime as dt
import json

import peewee
import pytest
from playhouse.migrations import Runner

from host import approval, registry, retraining, use_cases
from host.errors import AlreadyExists, IllegalTransition
from host.flow import Flow
from host.storage import models
from host.storage.db import MIGRATIONS_DIR, database_proxy, init_database, migrate, open_database
from host.unit_of_work import unit_of_work
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

PREVIOUS = "0002_api_keys"  # the last migration before the facts had their tables
BEFORE_RETRAIN_FACTS = "0004_rounds"  # the last migration before retrain plans and sub-model verdicts had theirs
EVALUATION = approval.EVALUATION_STAGE
START = dt.datetime(2025, 1, 1)


def _database_at(db_url: str, last: str):
    """A database migrated up to `last` and no further, bound for the host's code."""
    db = open_database(db_url)
    Runner(db, str(MIGRATIONS_DIR)).up(last)
    database_proxy.initialize(db)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def old_database(db_url: str):
    """A database at the schema before the facts had their tables."""
    yield from _database_at(db_url, PREVIOUS)


@pytest.fixture
def rounds_database(db_url: str):
    """A database at the schema before retrain plans and sub-model verdicts had their tables."""
    yield from _database_at(db_url, BEFORE_RETRAIN_FACTS)


@pytest.fixture
def database(db_url: str):
    db = init_database(db_url)
    try:
        yield db
    finally:
        db.close()


def _old_submission(db: peewee.Database, avatar_id: str, version: int) -> None:
    """A submission row as the previous schema stores it (the model now has a column more)."""
    table = peewee.Table("submission", ("avatar_id", "version", "video_key", "video_sha256", "video_size", "filename", "created_at"))
    table.bind(db).insert(avatar_id=avatar_id, version=version, video_key=f"k/v{version}", video_sha256="0" * 64, video_size=3,
                          filename="", created_at=START).execute()


def _run(avatar_id: str, stage: str, state: str, minute: int, parameters: dict | None = None,
         models_measured: tuple[str, ...] = (), summary: dict | None = None) -> str:
    run = models.StageRun.create(
        id=models.new_id(), avatar=avatar_id, stage=stage, state=state, submission_version=1,
        parameters_json=json.dumps(parameters or {}), inputs_json=json.dumps([{"key": key, "kind": "model"} for key in models_measured]),
        summary_json=json.dumps(summary or {}), updated_at=START + dt.timedelta(minutes=minute),
    )
    return run.id


def _model(avatar_id: str, key: str, generation: int) -> None:
    """A model file made by a trainer run of `generation`."""
    maker = _run(avatar_id, "refiner", "succeeded", 0, {"generation": generation} if generation else {})
    models.Artifact.create(key=key, avatar=avatar_id, run=maker, kind="model", name="model", sha256="0" * 64, size=1)


def _made_before(db: peewee.Database) -> dict[str, str]:
    """An avatar's history as the previous host wrote it: three submissions (a preset, an empty one,
    one from before presets), three rounds (not passed; rejected; approved after a retrain) and a
    failed evaluation, which is no round."""
    with unit_of_work() as uow:
        avatar = use_cases.create_avatar(uow, "cli:anna", "Anna").id
        for version, preset in ((1, {"preset": "draft"}), (2, {"preset": ""}), (3, {})):
            _old_submission(db, avatar, version)
            uow.notify(avatar, use_cases.SUBMISSION_CREATED, {"version": version, "video": f"k/v{version}", **preset})
        _model(avatar, "k/m0", 0)
        _model(avatar, "k/m1", 1)
        ids = {
            "avatar": avatar,
            "high": _run(avatar, EVALUATION, "succeeded", 1, {"preset": "high"}, ("k/m0",), {"passed": False, "preset": "high"}),
            "rejected": _run(avatar, EVALUATION, "succeeded", 2, {}, ("k/m0",), {"passed": True, "preset": "draft"}),
            "failed": _run(avatar, EVALUATION, "failed", 3),
            "approved": _run(avatar, EVALUATION, "succeeded", 4, {}, ("k/m1",), {"passed": True, "preset": "draft"}),
        }
        rejected = {"by": "telegram:42", "reason": "lips_off", "text": "", "generation": 0, "adjustment": "the lips are retrained",
                    "retrain_generation": 1, "parameters": {}}
        uow.notify(avatar, approval.REJECTED, rejected, run_id=ids["rejected"], stage=EVALUATION)
        uow.notify(avatar, approval.APPROVED, {"by": "telegram:7", "generation": 1}, run_id=ids["approved"], stage=EVALUATION)
    return ids


def _notifications() -> list[tuple]:
    return list(models.Notification.select(models.Notification.kind, models.Notification.payload_json).order_by(models.Notification.global_seq).tuples())


def test_the_migrations_fill_the_presets_and_the_rounds_from_the_notifications(old_database) -> None:
    ids = _made_before(old_database)
    told = _notifications()

    assert migrate(old_database) == ["0003_submission_preset", "0004_rounds", "0005_retrain_plans_and_verdicts", "0006_operator_tasks"]

    avatar = ids["avatar"]
    presets = {row.version: row.preset for row in models.Submission.select().where(models.Submission.avatar == avatar)}
    assert presets == {1: "draft", 2: "", 3: ""}
    found = [(r.number, r.evaluation_run_id, r.generation, r.passed, r.preset, r.verdict, r.verdict_by, r.verdict_reason,
              r.adjustment, r.retrain_generation, r.decided_at is not None)
             for r in models.Round.select().where(models.Round.avatar == avatar).order_by(models.Round.number)]
    assert found == [
        (1, ids["high"], 0, False, "high", None, "", "", "", None, False),
        (2, ids["rejected"], 0, True, "draft", "rejected", "telegram:42", "lips_off", "the lips are retrained", 1, True),
        (3, ids["approved"], 1, True, "draft", "approved", "telegram:7", "", "", None, True),
    ]
    assert _notifications() == told, "the person's notifications stay as they were"
    assert use_cases.submission_preset(avatar, 1) == "draft"
    assert approval.can_deploy(avatar) == (True, "telegram:7 approved round 3 (generation 1)")
    with pytest.raises(peewee.IntegrityError), old_database.atomic():
        _old_submission(old_database, avatar, 1)  # the table rebuilt for the new column keeps its unique index


def _plugin(stage: str, takes_preset: bool) -> None:
    schema = {"type": "object", "properties": {"preset": {"enum": ["draft", "high"]}} if takes_preset else {}}
    registry.register(f"127.0.0.1:{len(registry.list_plugins()) + 1}",
                      plugin_pb.DescribeResponse(name=stage, version="1", stages=[stage], parameters_schema_json=json.dumps(schema)))


def _succeed(run_id: str) -> None:
    with unit_of_work() as uow:
        use_cases.start_run(uow, run_id)
        use_cases.record_result(uow, run_id, plugin_pb.Result(status=plugin_pb.RESULT_STATUS_SUCCEEDED, summary_json="{}"))


def test_a_submissions_preset_reaches_its_stages_from_the_row(database) -> None:
    """The notification's copy is changed behind the host's back: the stages still get the row's."""
    for stage, takes in (("first", True), ("second", True), ("plain", False)):
        _plugin(stage, takes)
    flow = Flow(needs={"first": (), "second": ("first",), "plain": ("first",)})
    known = registry.known_stages()
    with unit_of_work() as uow:
        avatar = use_cases.create_avatar(uow, "cli:anna", "Anna").id
        models.Artifact.create(key="k/video", avatar=avatar, kind="video", name="video", sha256="0" * 64, size=3, metadata_json="{}")
        submission, (first,) = use_cases.create_submission(uow, avatar, plugin_pb.ArtifactRef(key="k/video"), flow, known, "draft")
    assert submission.preset == "draft" and json.loads(first.parameters_json) == {"preset": "draft"}
    models.Notification.update(payload_json=json.dumps({"version": 1, "video": "k/video", "preset": "high"})).where(
        models.Notification.kind == use_cases.SUBMISSION_CREATED).execute()

    _succeed(first.id)
    with unit_of_work() as uow:
        started = use_cases.start_next_stages(uow, first.id, flow, known)
    assert {run.stage: json.loads(run.parameters_json) for run in started} == {"second": {"preset": "draft"}, "plain": {}}


def _evaluated(avatar_id: str, summary: dict) -> str:
    with unit_of_work() as uow:
        run = use_cases.submit_stage(uow, avatar_id, EVALUATION, [], {}, {EVALUATION}, 1)
        use_cases.start_run(uow, run.id)
        done = use_cases.record_result(uow, run.id, plugin_pb.Result(status=plugin_pb.RESULT_STATUS_SUCCEEDED, summary_json=json.dumps(summary)))
        approval.evaluation_finished(uow, done)
    return run.id


def test_a_round_opens_in_its_table_and_keeps_the_persons_verdict(database) -> None:
    with unit_of_work() as uow:
        avatar = use_cases.create_avatar(uow, "cli:anna", "Anna").id
    short = _evaluated(avatar, {"passed": False, "preset": "high", "summary": ["too quiet"]})
    passed = _evaluated(avatar, {"passed": True, "preset": "draft", "summary": ["fine"]})
    rows = models.Round.select().where(models.Round.avatar == avatar).order_by(models.Round.number)
    assert [(r.number, r.evaluation_run_id, r.passed, r.preset, r.verdict) for r in rows] == [
        (1, short, False, "high", None), (2, passed, True, "draft", None)]

    with unit_of_work() as uow:
        judged = approval.approve(uow, avatar, "telegram:42")
    assert judged["round"] == 2 and judged["verdict"] == "approved"
    decided = models.Round.get(models.Round.evaluation_run == passed)
    assert (decided.verdict, decided.verdict_by) == ("approved", "telegram:42") and decided.decided_at is not None
    newest = approval.rounds(avatar)[-1]
    assert (newest["round"], newest["verdict"], newest["by"], newest["words"]) == (2, "approved", "telegram:42", ["fine"])
    with pytest.raises(IllegalTransition) as again, unit_of_work() as uow:
        approval.approve(uow, avatar, "telegram:7")
    assert again.value.code == "already_judged"


def test_the_migration_fills_the_retrain_plans_and_the_verdicts_from_the_notifications(rounds_database) -> None:
    with unit_of_work() as uow:
        avatar = use_cases.create_avatar(uow, "cli:anna", "Anna").id
        runs = {stage: _run(avatar, stage, "succeeded", minute) for minute, stage in enumerate(("syncnet", "audio2lip", "generator", "refiner"))}
        for kind, stage, payload in (
            (retraining.ACCEPTED, "syncnet", {"generation": 0}),
            (retraining.REJECTED, "syncnet", {"generation": 0, "reason": "out of sync"}),
            (retraining.REJECTED, "generator", {"generation": 0, "reason": "blurred"}),
            (retraining.ACCEPTED, "generator", {"generation": 0}),
            (retraining.ACCEPTED, "audio2lip", {"generation": 0}),
        ):
            uow.notify(avatar, kind, payload, run_id=runs[stage], stage=stage)
        plan = {"submission_version": 1, "generation": 1, "from": "audio2lip", "from_run": runs["audio2lip"],
                "rerun": ["refiner", "generator"], "base_runs": {"syncnet": runs["syncnet"], "audio2lip": runs["audio2lip"]},
                "parameters": {"refiner": {"scale": {"iterations": 2.0}, "generation": 1}, "generator": {"seed": 3, "generation": 1}}}
        uow.notify(avatar, use_cases.RETRAIN_STARTED, plan, stage="audio2lip")
    told = _notifications()

    assert migrate(rounds_database) == ["0005_retrain_plans_and_verdicts", "0006_operator_tasks"]

    assert use_cases.retrain_plan(avatar, 1, 1) == plan
    assert use_cases.retrain_plan(avatar, 1, 2) is None
    judged = {run.stage: (run.verdict, run.verdict_reason, run.verdict_at is not None)
              for run in models.StageRun.select().where(models.StageRun.avatar == avatar)}
    assert judged == {"syncnet": ("rejected", "out of sync", True), "audio2lip": ("accepted", None, True),
                      "generator": ("accepted", None, True), "refiner": (None, None, False)}
    assert [retraining.verdict(runs[stage]) for stage in ("syncnet", "refiner")] == ["rejected", None]
    assert _notifications() == told, "the person's notifications stay as they were"


def _trained(flow: Flow) -> tuple[str, dict[str, str]]:
    """An avatar whose three stages each succeeded once, in the flow's order."""
    for stage in flow.needs:
        _plugin(stage, False)
    known = registry.known_stages()
    with unit_of_work() as uow:
        avatar = use_cases.create_avatar(uow, "cli:anna", "Anna").id
        models.Artifact.create(key="k/video", avatar=avatar, kind="video", name="video", sha256="0" * 64, size=3, metadata_json="{}")
        _, (run,) = use_cases.create_submission(uow, avatar, plugin_pb.ArtifactRef(key="k/video"), flow, known, "")
    runs = {}
    while run is not None:
        runs[run.stage] = run.id
        _succeed(run.id)
        with unit_of_work() as uow:
            run = next(iter(use_cases.start_next_stages(uow, run.id, flow, known)), None)
    return avatar, runs


def _tamper(kind: str, payload: dict) -> None:
    """Changes the notifications' copy of a fact behind the host's back."""
    models.Notification.update(payload_json=json.dumps(payload)).where(models.Notification.kind == kind).execute()


def test_a_retrain_follows_its_plan_from_the_table_and_refuses_a_second_plan_for_its_generation(database) -> None:
    flow = Flow(needs={"first": (), "second": ("first",), "third": ("second",)})
    avatar, runs = _trained(flow)
    known = registry.known_stages()
    with unit_of_work() as uow:
        retraining.accept(uow, avatar, "first", flow)
        (second,) = retraining.retrain(uow, avatar, "first", flow, known)
    plan = {"submission_version": 1, "generation": 1, "from": "first", "from_run": runs["first"], "rerun": ["second", "third"],
            "base_runs": {"first": runs["first"]}, "parameters": {"second": {"generation": 1}, "third": {"generation": 1}}}
    (told,) = [json.loads(row.payload_json) for row in models.Notification.select().where(models.Notification.kind == use_cases.RETRAIN_STARTED)]
    assert told == plan and use_cases.retrain_plan(avatar, 1, 1) == plan
    _tamper(use_cases.RETRAIN_STARTED, {**plan, "rerun": [], "parameters": {}})

    _succeed(second.id)
    with unit_of_work() as uow:
        (third,) = use_cases.start_next_stages(uow, second.id, flow, known)
    assert (third.stage, json.loads(third.parameters_json)) == ("third", {"generation": 1})
    with pytest.raises(AlreadyExists) as again, unit_of_work():
        use_cases.record_retrain_plan(avatar, plan)
    assert again.value.code == "retrain_started"
    assert models.RetrainPlan.select().where(models.RetrainPlan.avatar == avatar).count() == 1


def test_a_submodels_verdict_is_read_from_its_run(database) -> None:
    flow = Flow(needs={"first": (), "second": ("first",), "third": ("second",)})
    avatar, runs = _trained(flow)
    with unit_of_work() as uow:
        retraining.accept(uow, avatar, "first", flow)
        retraining.reject(uow, avatar, "second", "  the mouth is blurred ", flow)
    _tamper(retraining.ACCEPTED, {"generation": 0})
    models.Notification.update(kind=retraining.REJECTED).where(models.Notification.kind == retraining.ACCEPTED).execute()

    assert [retraining.verdict(runs[stage]) for stage in ("first", "second", "third")] == ["accepted", "rejected", None]
    assert models.StageRun.get_by_id(runs["second"]).verdict_reason == "the mouth is blurred"
    with unit_of_work() as uow:
        retraining.accept(uow, avatar, "second", flow)
    second = models.StageRun.get_by_id(runs["second"])
    assert (second.verdict, second.verdict_reason) == ("accepted", None), "the newest verdict counts"
