"""The first schema. Tables are frozen copies, never imported from host.storage.models, so that
later changes to the models cannot rewrite what this migration created."""

import datetime as dt

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        id = CharField(primary_key=True, max_length=32)
        external_id = CharField(unique=True, max_length=128)
        display_name = CharField(default="", max_length=128)
        created_at = DateTimeField(default=_now)

    class Avatar(Base):
        id = CharField(primary_key=True, max_length=32)
        owner = ForeignKeyField(User, on_delete="CASCADE")
        name = CharField(max_length=128)
        created_at = DateTimeField(default=_now)

    class Submission(Base):
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        version = IntegerField()
        video_key = CharField(max_length=512)
        video_sha256 = CharField(max_length=64)
        video_size = BigIntegerField()
        filename = CharField(default="", max_length=256)
        created_at = DateTimeField(default=_now)

        class Meta:
            indexes = ((("avatar", "version"), True),)

    class StageRun(Base):
        id = CharField(primary_key=True, max_length=32)
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        stage = CharField(max_length=64, index=True)
        state = CharField(max_length=32, index=True)
        attempt = IntegerField(default=0)
        submission_version = IntegerField(default=0)
        parameters_json = TextField(default="{}")
        inputs_json = TextField(default="[]")
        outputs_json = TextField(default="[]")
        checkpoint_json = TextField(default="")
        error_json = TextField(default="")
        summary_json = TextField(default="")
        progress = FloatField(default=0.0)
        progress_message = TextField(default="")
        cancel_requested = BooleanField(default=False)
        priority = CharField(default="default", max_length=16)
        created_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)

    class Artifact(Base):
        key = CharField(primary_key=True, max_length=512)
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        run = ForeignKeyField(StageRun, null=True, on_delete="SET NULL")
        kind = CharField(max_length=64)
        name = CharField(max_length=128)
        sha256 = CharField(max_length=64)
        size = BigIntegerField()
        metadata_json = TextField(default="{}")
        created_at = DateTimeField(default=_now)

    class Notification(Base):
        global_seq = BigIntegerField(unique=True)
        avatar = ForeignKeyField(Avatar, on_delete="CASCADE")
        seq = BigIntegerField()
        kind = CharField(max_length=64)
        run_id = CharField(default="", max_length=32)
        stage = CharField(default="", max_length=64)
        payload_json = TextField(default="{}")
        created_at = DateTimeField(default=_now)

        class Meta:
            indexes = ((("avatar", "seq"), True),)

    class Counter(Base):
        name = CharField(primary_key=True, max_length=64)
        value = BigIntegerField(default=0)

    class Plugin(Base):
        id = CharField(primary_key=True, max_length=32)
        name = CharField(max_length=128)
        version = CharField(max_length=64)
        address = CharField(unique=True, max_length=256)
        description_json = TextField()
        registered_at = DateTimeField(default=_now)
        last_seen = DateTimeField(default=_now)
        healthy = BooleanField(default=True)
        last_error = TextField(default="")

    db.create_tables([User, Avatar, Submission, StageRun, Artifact, Notification, Counter, Plugin])
