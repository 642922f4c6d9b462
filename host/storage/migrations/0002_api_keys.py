"""API keys of the host's clients (host/auth.py): a frozen copy of the table, as in 0001."""

import datetime as dt

from peewee import CharField, DateTimeField, ForeignKeyField, Model


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        id = CharField(primary_key=True, max_length=32)

    class ApiKey(Base):
        id = CharField(primary_key=True, max_length=32)
        key_hash = CharField(unique=True, max_length=64)
        user = ForeignKeyField(User, on_delete="CASCADE")
        role = CharField(max_length=16)
        label = CharField(default="", max_length=128)
        created_at = DateTimeField(default=_now)
        revoked_at = DateTimeField(null=True)

    db.create_tables([ApiKey])
