"""The rounds of the person's approval in their own table (issue 22). A round was found again on
every read: the avatar's succeeded `quality_eval` runs, numbered in the order they finished, each
with the generation of the model files it measured, and its verdict in the newest
`avatar_approved` or `avatar_rejected` notification on its run. The table is filled the same way
once, so a database made before keeps every round, its number and its verdict. The notifications
stay as they are: they are the person's history. Frozen copies of the tables, as in 0001."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from peewee import BigIntegerField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField

EVALUATION_STAGE = "quality_eval"
SUCCEEDED = "succeeded"
MODEL_KIND = "model"
VERDICTS = {"avatar_approved": "approved", "avatar_rejected": "rejected"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _own_generation(parameters_json: str) -> int:
    """The generation a run carries in its parameters (host/use_cases.py run_generation): 0 for the
    flow's own runs."""
    return int(json.loads(parameters_json or "{}").get("generation", 0))


def _verdict(row: Model | None) -> dict:
    """The verdict columns of a round from its newest verdict notification (None: not judged)."""
    if row is None:
        return {}
    payload = json.loads(row.payload_json or "{}")
    return {
        "verdict": VERDICTS[row.kind], "verdict_by": payload.get("by") or "", "verdict_reason": payload.get("reason") or "",
        "verdict_text": payload.get("text") or "", "adjustment": payload.get("adjustment") or "",
        "retrain_generation": payload.get("retrain_generation"), "decided_at": row.created_at,
    }


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Avatar(Base):
        id = CharField(primary_key=True, max_length=32)

    class StageRun(Base):
        id = CharField(primary_key=True, max_length=32)
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        stage = CharField(max_length=64, index=True)
        state = CharField(max_length=32, index=True)
        submission_version = IntegerField(default=0)
        parameters_json = TextField(default="{}")
        inputs_json = TextField(default="[]")
        summary_json = TextField(default="")
        updated_at = DateTimeField(default=_now)

    class Artifact(Base):
        key = CharField(primary_key=True, max_length=512)
        run = ForeignKeyField(StageRun, null=True, on_delete="SET NULL")

    class Notification(Base):
        global_seq = BigIntegerField(unique=True)
        kind = CharField(max_length=64)
        run_id = CharField(default="", max_length=32)
        payload_json = TextField(default="{}")
        created_at = DateTimeField(default=_now)

    class Round(Base):
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        number = IntegerField()
        evaluation_run = ForeignKeyField(StageRun, unique=True, on_delete="CASCADE")
        submission_version = IntegerField()
        generation = IntegerField()
        passed = BooleanField()
        preset = CharField(default="", max_length=16)
        verdict = CharField(null=True, max_length=16)
        verdict_by = TextField(default="")
        verdict_reason = CharField(default="", max_length=32)
        verdict_text = TextField(default="")
        adjustment = TextField(default="")
        retrain_generation = IntegerField(null=True)
        created_at = DateTimeField(default=_now)
        decided_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("avatar", "number"), True),)

    def generation(run: StageRun) -> int:
        """As host/approval.py measured it: the newest generation among the model files it measured."""
        keys = [ref["key"] for ref in json.loads(run.inputs_json or "[]") if ref["kind"] == MODEL_KIND]
        makers = StageRun.select().join(Artifact, on=(Artifact.run == StageRun.id)).where(Artifact.key.in_(keys))
        return max((_own_generation(maker.parameters_json) for maker in makers), default=_own_generation(run.parameters_json))

    def newest_verdict(run: StageRun) -> Notification | None:
        return (Notification.select().where((Notification.run_id == run.id) & Notification.kind.in_(list(VERDICTS)))
                .order_by(Notification.global_seq.desc()).first())

    db.create_tables([Round])
    numbers: dict[str, int] = defaultdict(int)
    evaluations = (StageRun.select().where((StageRun.stage == EVALUATION_STAGE) & (StageRun.state == SUCCEEDED))
                   .order_by(StageRun.avatar, StageRun.updated_at, StageRun.id))
    for run in evaluations:
        numbers[run.avatar_id] += 1
        summary = json.loads(run.summary_json or "{}")
        Round.create(
            avatar=run.avatar_id, number=numbers[run.avatar_id], evaluation_run=run.id, submission_version=run.submission_version,
            generation=generation(run), passed=bool(summary.get("passed")), preset=summary.get("preset") or "",
            created_at=run.updated_at, **_verdict(newest_verdict(run)),
        )
