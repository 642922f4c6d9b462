"""Retrain plans and sub-model verdicts in tables of their own (issue 22). A retrain's plan lived
only in the payload of its `retrain_started` notification, and a trained sub-model's verdict in
the newest `submodel_accepted` or `submodel_rejected` notification on its run; the host scanned
them to find both again. The `retrain_plan` and `retrain_stage` tables and the verdict columns of
`stage_run` are filled from those payloads once, so a database made before keeps every plan and
verdict. The notifications stay as they are: they are the person's history. Frozen copies of the
tables, as in 0001."""

from __future__ import annotations

import json

from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField

RETRAIN_STARTED = "retrain_started"
VERDICTS = {"submodel_accepted": "accepted", "submodel_rejected": "rejected"}


def _stages(plan: dict) -> list[dict]:
    """The plan's stages in the order host/use_cases.py record_retrain_plan writes them: those it
    reruns, then those it keeps."""
    rerun = [{"stage": stage, "parameters_json": json.dumps(plan["parameters"][stage])} for stage in plan["rerun"]]
    return rerun + [{"stage": stage, "base_run": run_id} for stage, run_id in plan["base_runs"].items()]


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Avatar(Base):
        id = CharField(primary_key=True, max_length=32)

    class StageRun(Base):
        id = CharField(primary_key=True, max_length=32)
        verdict = CharField(null=True, max_length=16)
        verdict_reason = TextField(null=True)
        verdict_at = DateTimeField(null=True)

    class Notification(Base):
        global_seq = BigIntegerField(unique=True)
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        kind = CharField(max_length=64)
        run_id = CharField(default="", max_length=32)
        payload_json = TextField(default="{}")
        created_at = DateTimeField()

    class RetrainPlan(Base):
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        submission_version = IntegerField()
        generation = IntegerField()
        from_stage = CharField(max_length=64)
        from_run = ForeignKeyField(StageRun, on_delete="CASCADE")
        created_at = DateTimeField()

        class Meta:
            indexes = ((("avatar", "submission_version", "generation"), True),)

    class RetrainStage(Base):
        plan = ForeignKeyField(RetrainPlan, on_delete="CASCADE")
        position = IntegerField()
        stage = CharField(max_length=64)
        parameters_json = TextField(null=True)
        base_run = ForeignKeyField(StageRun, null=True, on_delete="CASCADE")

        class Meta:
            indexes = ((("plan", "stage"), True),)

    def notifications(*kinds: str):
        return Notification.select().where(Notification.kind.in_(list(kinds))).order_by(Notification.global_seq)

    migrator.migrate(
        migrator.add_column("stage_run", "verdict", CharField(null=True, max_length=16)),
        migrator.add_column("stage_run", "verdict_reason", TextField(null=True)),
        migrator.add_column("stage_run", "verdict_at", DateTimeField(null=True)),
    )
    db.create_tables([RetrainPlan, RetrainStage])
    for row in notifications(RETRAIN_STARTED):
        plan = json.loads(row.payload_json)
        known = RetrainPlan.select().where(
            (RetrainPlan.avatar == row.avatar_id) & (RetrainPlan.submission_version == plan["submission_version"])
            & (RetrainPlan.generation == plan["generation"])
        )
        if known.exists():
            continue  # the host read the first plan of a generation; a later copy never counted
        made = RetrainPlan.create(avatar=row.avatar_id, submission_version=plan["submission_version"], generation=plan["generation"],
                                  from_stage=plan["from"], from_run=plan["from_run"], created_at=row.created_at)
        for position, stage in enumerate(_stages(plan)):
            RetrainStage.create(plan=made, position=position, **stage)
    for row in notifications(*VERDICTS):
        reason = json.loads(row.payload_json or "{}").get("reason") if VERDICTS[row.kind] == "rejected" else None
        StageRun.update(verdict=VERDICTS[row.kind], verdict_reason=reason, verdict_at=row.created_at).where(
            StageRun.id == row.run_id).execute()
