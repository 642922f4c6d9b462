"""peewee models of the metadata: users, avatars, submissions, stage runs, artifacts, notifications,
approval rounds, retrain plans, plugins. Only repositories and migrations import this module; the domain never does.

JSON columns hold text: both SQLite and PostgreSQL store it, and repositories decode it.
"""

from __future__ import annotations

import datetime as dt
import uuid

import peewee

from host.storage.db import database_proxy


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id() -> str:
    """A row's id: random, so hosts and workers on several machines never hand out the same one."""
    return uuid.uuid4().hex


class BaseModel(peewee.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class User(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=32)
    external_id = peewee.CharField(unique=True, max_length=128)
    display_name = peewee.CharField(default="", max_length=128)
    created_at = peewee.DateTimeField(default=utcnow)


class Avatar(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=32)
    owner = peewee.ForeignKeyField(User, backref="avatars", on_delete="CASCADE")
    name = peewee.CharField(max_length=128)
    created_at = peewee.DateTimeField(default=utcnow)


class Submission(BaseModel):
    avatar = peewee.ForeignKeyField(Avatar, backref="submissions", on_delete="CASCADE")
    version = peewee.IntegerField()
    video_key = peewee.CharField(max_length=512)
    video_sha256 = peewee.CharField(max_length=64)
    video_size = peewee.BigIntegerField()
    filename = peewee.CharField(default="", max_length=256)
    preset = peewee.CharField(default="", max_length=16)  # "": each stage's own default (host/presets.py)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("avatar", "version"), True),)


class StageRun(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=32)
    avatar = peewee.ForeignKeyField(Avatar, backref="runs", on_delete="CASCADE")
    stage = peewee.CharField(max_length=64, index=True)
    state = peewee.CharField(max_length=32, index=True)
    attempt = peewee.IntegerField(default=0)
    submission_version = peewee.IntegerField(default=0)
    parameters_json = peewee.TextField(default="{}")
    inputs_json = peewee.TextField(default="[]")
    outputs_json = peewee.TextField(default="[]")
    checkpoint_json = peewee.TextField(default="")
    error_json = peewee.TextField(default="")
    summary_json = peewee.TextField(default="")
    progress = peewee.FloatField(default=0.0)
    progress_message = peewee.TextField(default="")
    cancel_requested = peewee.BooleanField(default=False)
    priority = peewee.CharField(default="default", max_length=16)
    verdict = peewee.CharField(null=True, max_length=16)  # a trained sub-model's newest verdict (host/retraining.py); None: not judged
    verdict_reason = peewee.TextField(null=True)  # a rejection's reason
    verdict_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)


class Artifact(BaseModel):
    key = peewee.CharField(primary_key=True, max_length=512)
    avatar = peewee.ForeignKeyField(Avatar, backref="artifacts", on_delete="CASCADE")
    run = peewee.ForeignKeyField(StageRun, null=True, backref="artifacts", on_delete="SET NULL")
    kind = peewee.CharField(max_length=64)
    name = peewee.CharField(max_length=128)
    sha256 = peewee.CharField(max_length=64)
    size = peewee.BigIntegerField()
    metadata_json = peewee.TextField(default="{}")
    created_at = peewee.DateTimeField(default=utcnow)


class Notification(BaseModel):
    global_seq = peewee.BigIntegerField(unique=True)
    avatar = peewee.ForeignKeyField(Avatar, backref="notifications", on_delete="CASCADE")
    seq = peewee.BigIntegerField()
    kind = peewee.CharField(max_length=64)
    run_id = peewee.CharField(default="", max_length=32)
    stage = peewee.CharField(default="", max_length=64)
    payload_json = peewee.TextField(default="{}")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("avatar", "seq"), True),)


class Round(BaseModel):
    """A round of the person's approval (host/approval.py): one succeeded evaluation of a generation,
    numbered per avatar from 1 in the order the evaluations finished, and the person's verdict
    ("approved" or "rejected"; None while it waits). Its own row, so the history and deployment read
    the verdict without scanning the notifications, which only tell the person."""

    avatar = peewee.ForeignKeyField(Avatar, backref="rounds", on_delete="CASCADE")
    number = peewee.IntegerField()
    evaluation_run = peewee.ForeignKeyField(StageRun, unique=True, backref="rounds", on_delete="CASCADE")
    submission_version = peewee.IntegerField()
    generation = peewee.IntegerField()
    passed = peewee.BooleanField()
    preset = peewee.CharField(default="", max_length=16)
    verdict = peewee.CharField(null=True, max_length=16)
    verdict_by = peewee.TextField(default="")
    verdict_reason = peewee.CharField(default="", max_length=32)
    verdict_text = peewee.TextField(default="")
    adjustment = peewee.TextField(default="")
    retrain_generation = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    decided_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("avatar", "number"), True),)


class RetrainPlan(BaseModel):
    """A retrain's plan (host/retraining.py): generation `generation` of a submission, started from
    the accepted run `from_run` of the sub-model `from_stage`. Its stages are `RetrainStage` rows.
    Its own row, so the flow follows the plan without scanning the notifications, which only tell
    the person; one plan per generation of a submission."""

    avatar = peewee.ForeignKeyField(Avatar, backref="retrain_plans", on_delete="CASCADE")
    submission_version = peewee.IntegerField()
    generation = peewee.IntegerField()
    from_stage = peewee.CharField(max_length=64)
    from_run = peewee.ForeignKeyField(StageRun, backref="retrain_plans", on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("avatar", "submission_version", "generation"), True),)


class RetrainStage(BaseModel):
    """A stage a retrain's plan names, in the plan's order: one it reruns (`parameters_json`, the
    stage's parameters: free-form, as its plugin's schema defines them) or one it keeps (`base_run`,
    the run whose outputs stand in for it)."""

    plan = peewee.ForeignKeyField(RetrainPlan, backref="stages", on_delete="CASCADE")
    position = peewee.IntegerField()
    stage = peewee.CharField(max_length=64)
    parameters_json = peewee.TextField(null=True)
    base_run = peewee.ForeignKeyField(StageRun, null=True, backref="retrain_bases", on_delete="CASCADE")

    class Meta:
        indexes = ((("plan", "stage"), True),)


class OperatorTask(BaseModel):
    """A person's words with a rejection for "other" (host/operator_tasks.py): the host cannot turn
    free words into an adjustment, so an operator reads them and answers, with a retrain or by
    giving the round back to the person. Open while `answered_at` is None."""

    id = peewee.CharField(primary_key=True, max_length=32, default=new_id)
    avatar = peewee.ForeignKeyField(Avatar, backref="operator_tasks", on_delete="CASCADE")
    round = peewee.ForeignKeyField(Round, backref="operator_tasks", on_delete="CASCADE")
    text = peewee.TextField()
    asked_by = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    outcome = peewee.CharField(default="", max_length=16)  # "", retrain, reopen or answer
    answer = peewee.TextField(default="")
    answered_by = peewee.TextField(default="")
    answered_at = peewee.DateTimeField(null=True, index=True)
    retrain_reason = peewee.CharField(default="", max_length=32)
    retrain_generation = peewee.IntegerField(null=True)


class Counter(BaseModel):
    """Named counters; the notification sequence row is locked per write so commits stay ordered."""

    name = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.BigIntegerField(default=0)


class Plugin(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=32)
    name = peewee.CharField(max_length=128)
    version = peewee.CharField(max_length=64)
    address = peewee.CharField(unique=True, max_length=256)
    description_json = peewee.TextField()
    registered_at = peewee.DateTimeField(default=utcnow)
    last_seen = peewee.DateTimeField(default=utcnow)
    healthy = peewee.BooleanField(default=True)
    last_error = peewee.TextField(default="")


class ApiKey(BaseModel):
    """A client's key to the host's API. Only the key's sha256 is stored, so a copy of the database
    gives no working key; `role` is user, service or operator (host/auth.py)."""

    id = peewee.CharField(primary_key=True, max_length=32)
    key_hash = peewee.CharField(unique=True, max_length=64)
    user = peewee.ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")
    role = peewee.CharField(max_length=16)
    label = peewee.CharField(default="", max_length=128)
    created_at = peewee.DateTimeField(default=utcnow)
    revoked_at = peewee.DateTimeField(null=True)


ALL_MODELS = [User, Avatar, Submission, StageRun, Artifact, Notification, Round, RetrainPlan, RetrainStage, OperatorTask, Counter, Plugin, ApiKey]
