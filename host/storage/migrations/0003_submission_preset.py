"""The submission's preset in its own column (issue 22). It lived only in the payload of the
submission's `submission_created` notification, which the host scanned to find it again; the
column is filled from those payloads, so a database made before keeps every submission's preset.
The notifications stay as they are: they are the person's history. Frozen copies of the tables,
as in 0001."""

import json

from peewee import CharField, ForeignKeyField, IntegerField, Model, TextField

SUBMISSION_CREATED = "submission_created"


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Avatar(Base):
        id = CharField(primary_key=True, max_length=32)

    class Submission(Base):
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        version = IntegerField()
        preset = CharField(default="", max_length=16)

    class Notification(Base):
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        kind = CharField(max_length=64)
        payload_json = TextField(default="{}")

    migrator.migrate(migrator.add_column("submission", "preset", CharField(default="", max_length=16)))
    for row in Notification.select().where(Notification.kind == SUBMISSION_CREATED):
        payload = json.loads(row.payload_json)
        if payload.get("preset"):
            Submission.update(preset=payload["preset"]).where(
                (Submission.avatar == row.avatar_id) & (Submission.version == payload["version"])
            ).execute()
