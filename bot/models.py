"""The bot's own tables, in the host's database (host.storage) beside its tables: conversation state
lives here, not in memory, so a bot restart loses nothing. Created when the bot starts
(`create_tables`); the host's migrations never touch them."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from host.storage.models import BaseModel, utcnow


class BotUser(BaseModel):
    """A person talking to the bot, and where their conversation stands."""

    user_id = peewee.BigIntegerField(primary_key=True)
    chat_id = peewee.BigIntegerField()
    language = peewee.CharField(default="en", max_length=16)
    current_avatar = peewee.CharField(default="", max_length=32)
    # What the next text answers, e.g. "reject_other:<avatar id>"; empty: nothing asked.
    awaiting = peewee.CharField(default="", max_length=96)
    # How they were admitted in invite mode (the code), empty otherwise.
    invited_with = peewee.CharField(default="", max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "bot_user"


class FollowedAvatar(BaseModel):
    """An avatar whose notifications go to a chat, and the last one delivered there."""

    avatar_id = peewee.CharField(primary_key=True, max_length=32)
    user_id = peewee.BigIntegerField(index=True)
    chat_id = peewee.BigIntegerField()
    last_seq = peewee.BigIntegerField(default=0)

    class Meta:
        table_name = "bot_followed_avatar"


class StageMessage(BaseModel):
    """The one message per stage run that its progress edits in place."""

    run_id = peewee.CharField(primary_key=True, max_length=32)
    chat_id = peewee.BigIntegerField()
    message_id = peewee.BigIntegerField()

    class Meta:
        table_name = "bot_stage_message"


class CallbackToken(BaseModel):
    """What a button does, kept here so callback data carries only an opaque token: a forged or
    replayed press is checked against the person who was given the button. The buttons of one
    message share a `keyboard`: the first press spends them all (`used_at`), so a second tap, or a
    tap on a sibling, does nothing twice. `scope` names what the button acts on (the review round's
    evaluation run, the proposal's run, the cut-out version's run), so a button of a step that has
    moved on is told apart from a current one (bot.handlers.buttons)."""

    token = peewee.CharField(primary_key=True, max_length=24)
    user_id = peewee.BigIntegerField()
    action = peewee.CharField(max_length=32)
    avatar_id = peewee.CharField(max_length=32)
    argument = peewee.CharField(default="", max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)
    keyboard = peewee.CharField(default="", max_length=24, index=True)
    scope = peewee.CharField(default="", max_length=64)
    used_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "bot_callback_token"


class Consent(BaseModel):
    """When a person agreed to the privacy statement (/privacy). A table of its own, so that an
    installed bot gets it by `create_tables` without a migration."""

    user_id = peewee.BigIntegerField(primary_key=True)
    agreed_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "bot_consent"


class WaitingFile(BaseModel):
    """A file a person sent that waits for their answer before anything is done with it (a video for
    their agreement to /privacy or for their choice of avatar, a picture before it replaces a trained
    avatar's background), held by its Telegram file id, not fetched: the latest one of each kind."""

    user_id = peewee.BigIntegerField()
    kind = peewee.CharField(max_length=16)  # "video" or "picture"
    file_id = peewee.TextField()
    size = peewee.BigIntegerField(default=0)
    name = peewee.CharField(default="", max_length=256)

    class Meta:
        table_name = "bot_waiting_file"
        primary_key = peewee.CompositeKey("user_id", "kind")


class LoginToken(BaseModel):
    """A one-time login link to the web app the bot gave a person: kept as the token's sha256 (a
    database read does not yield a usable link), good once and until `expires_at`."""

    token_hash = peewee.CharField(primary_key=True, max_length=64)
    user_id = peewee.BigIntegerField()
    expires_at = peewee.DateTimeField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "bot_login_token"


class ReviewReminder(BaseModel):
    """A preview that waits for the person's verdict, and when to remind them of it: written when
    the preview is delivered, gone once they answer (or the avatar is deleted), so reminders
    survive a restart of the bot (bot.reminders)."""

    avatar_id = peewee.CharField(primary_key=True, max_length=32)
    user_id = peewee.BigIntegerField()
    chat_id = peewee.BigIntegerField()
    round_run = peewee.CharField(max_length=32)  # the evaluation run of the round that waits
    passed = peewee.BooleanField(default=True)  # whether it may be approved (else only rejected)
    sent = peewee.IntegerField(default=0)  # reminders sent for this round
    due_at = peewee.DateTimeField(index=True)

    class Meta:
        table_name = "bot_review_reminder"


BOT_MODELS = [BotUser, FollowedAvatar, StageMessage, CallbackToken, Consent, WaitingFile, LoginToken, ReviewReminder]
# Columns added to a bot table after it was first created: the bot's tables have no migration
# history (create_tables makes only missing tables), so an installed bot gains these here.
ADDED_COLUMNS = [CallbackToken.keyboard, CallbackToken.scope, CallbackToken.used_at]


def create_tables(db: peewee.Database) -> None:
    """Makes the missing tables, after adding the columns an existing table lacks (first: making
    a table also makes its indexes, some of which are on those columns)."""
    existing = set(db.get_tables())
    migrator = SchemaMigrator.from_database(db)
    for field in ADDED_COLUMNS:
        table = field.model._meta.table_name
        if table not in existing or has_column(db, table, field.column_name):
            continue
        try:
            migrate(migrator.add_column(table, field.column_name, field))
        except (peewee.OperationalError, peewee.ProgrammingError):
            if not has_column(db, table, field.column_name):  # else the web app's process added it a moment ago
                raise
    db.create_tables(BOT_MODELS, safe=True)


def has_column(db: peewee.Database, table: str, column: str) -> bool:
    return column in {found.name for found in db.get_columns(table)}
