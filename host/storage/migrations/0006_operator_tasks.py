"""Operator tasks (issue 24): a rejection for "other" carries free words the host cannot turn into
an adjustment, so they wait in a table of their own for an operator to answer (host/operator_tasks.py).
A round rejected for "other" before this migration gets its task too, still open: those words were
never answered either. Frozen copies of the tables, as in 0001."""

from __future__ import annotations

import datetime as dt
import uuid

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Avatar(Base):
        id = CharField(primary_key=True, max_length=32)

    class Round(Base):
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        verdict = CharField(null=True, max_length=16)
        verdict_by = TextField(default="")
        verdict_reason = CharField(default="", max_length=32)
        verdict_text = TextField(default="")
        decided_at = DateTimeField(null=True)

    class OperatorTask(Base):
        id = CharField(primary_key=True, max_length=32)
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        round = ForeignKeyField(Round, on_delete="CASCADE")
        text = TextField()
        asked_by = TextField(default="")
        created_at = DateTimeField(default=_now)
        outcome = CharField(default="", max_length=16)
        answer = TextField(default="")
        answered_by = TextField(default="")
        answered_at = DateTimeField(null=True, index=True)
        retrain_reason = CharField(default="", max_length=32)
        retrain_generation = IntegerField(null=True)

    db.create_tables([OperatorTask])
    for row in Round.select().where((Round.verdict == "rejected") & (Round.verdict_reason == "other")):
        OperatorTask.create(id=uuid.uuid4().hex, avatar=row.avatar_id, round=row.id, text=row.verdict_text, asked_by=row.verdict_by,
                            created_at=row.decided_at or _now())
