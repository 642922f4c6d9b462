"""Facts that lived only in notification payloads, now in a column of their own (issue 22): a
submission's preset (`submission.preset`). The migration fills it from a database made before, on
both engines, and the host reads it from there: the notifications only tell the person."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import peewee
import pytest
from playhouse.migrations import Runner

from host import registry, use_cases
from host.flow import Flow
from host.storage import models
from host.storage.db import MIGRATIONS_DIR, database_proxy, init_database, migrate, open_database
from host.unit_of_work import unit_of_work
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

PREVIOUS = "0002_api_keys"  # the last migration before the facts had their tables
START = dt.datetime(2025, 1, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'twinforge.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def old_database(db_url: str):
    """A database at the schema before the facts had their tables, bound for the host's code."""
    db = open_database(db_url)
    Runner(db, str(MIGRATIONS_DIR)).up(PREVIOUS)
    database_proxy.initialize(db)
    try:
        yield db
    finally:
        db.close()


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


def _made_before(db: peewee.Database) -> str:
    """An avatar's submissions as the previous host wrote them: a preset, an empty one, one from
    before presets."""
    with unit_of_work() as uow:
        avatar = use_cases.create_avatar(uow, "cli:anna", "Anna").id
        for version, preset in ((1, {"preset": "draft"}), (2, {"preset": ""}), (3, {})):
            _old_submission(db, avatar, version)
            uow.notify(avatar, use_cases.SUBMISSION_CREATED, {"version": version, "video": f"k/v{version}", **preset})
    return avatar


def _notifications() -> list[tuple]:
    return list(models.Notification.select(models.Notification.kind, models.Notification.payload_json).order_by(models.Notification.global_seq).tuples())


def test_the_migration_fills_the_presets_from_the_notifications(old_database) -> None:
    avatar = _made_before(old_database)
    told = _notifications()

    assert migrate(old_database) == ["0003_submission_preset"]

    presets = {row.version: row.preset for row in models.Submission.select().where(models.Submission.avatar == avatar)}
    assert presets == {1: "draft", 2: "", 3: ""}
    assert _notifications() == told, "the person's notifications stay as they were"
    assert use_cases.submission_preset(avatar, 1) == "draft"
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
